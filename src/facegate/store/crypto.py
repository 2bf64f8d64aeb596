"""Encryption at rest: per-subject data keys wrapped by one master key.

Every subject gets a random 256-bit data key (DEK). Its templates are sealed with AES-256-GCM
under that key; the DEK itself is stored only wrapped (AES-256-GCM under the master key, bound
to the subject id as associated data, so a wrapped key cannot be moved to another subject).
Erasing a subject deletes its wrapped DEK, after which no copy of its templates, in the live
database or in a backup, can be decrypted (crypto-shredding).

The master key comes from ``FACEGATE_MASTER_KEY`` (base64 or hex of 32 bytes) or from a key
file created on first start with mode 0600. :class:`MasterKey` is the seam for a KMS later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facegate.errors import MasterKeyError, StoreCorruptError
from facegate.types import FloatArray

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_ENV = "FACEGATE_MASTER_KEY"
KEY_FILE_NAME = "master.key"
_WRAP_AAD = b"facegate/dek/v1:"
_SEAL_AAD = b"facegate/template/v1:"
_CHECK_AAD = b"facegate/key-check/v1"
_CHECK_PLAIN = b"facegate master key check"


def parse_key(text: str) -> bytes:
    """Decode a master key given as 64 hex digits or base64 (standard or URL-safe)."""
    value = text.strip()
    raw = b""
    if len(value) == 2 * KEY_BYTES:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
    if not raw:
        urlsafe = value.replace("+", "-").replace("/", "_")
        try:
            raw = base64.urlsafe_b64decode(urlsafe + "=" * (-len(urlsafe) % 4))
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"master key must be {KEY_BYTES} bytes as base64 or {2 * KEY_BYTES} hex digits"
        )
    return raw


def create_key_file(path: Path) -> bytes:
    """Write a new random master key to ``path`` with mode 0600; refuses to overwrite."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # a new data dir: owner only
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def read_key_file(path: Path) -> bytes:
    """Read a key file, refusing one that other users can read."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise MasterKeyError(
            f"key file {path} has mode {mode:o}: other users can read it; run chmod 600 {path}"
        )
    return parse_key(path.read_text(encoding="ascii"))


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The key that wraps data keys. ``source`` says where it came from (never the key)."""

    key: bytes
    source: str

    @property
    def fingerprint(self) -> str:
        """A short public id of the key (SHA-256 of a derived value, not of the key itself)."""
        return hashlib.sha256(b"facegate/fingerprint:" + self.key).hexdigest()[:16]

    @staticmethod
    def resolve(
        home: Path, explicit: bytes | str | None = None, *, create: bool = True
    ) -> MasterKey:
        """The explicit key, else ``FACEGATE_MASTER_KEY``, else ``home/master.key``.

        The key file is created (mode 0600) when none exists and ``create`` is true.
        """
        if explicit is not None:
            key = explicit if isinstance(explicit, bytes) else parse_key(explicit)
            if len(key) != KEY_BYTES:
                raise MasterKeyError(f"master key must be {KEY_BYTES} bytes, got {len(key)}")
            return MasterKey(key, "argument")
        env = os.environ.get(MASTER_KEY_ENV)
        if env:
            return MasterKey(parse_key(env), f"${MASTER_KEY_ENV}")
        path = home / KEY_FILE_NAME
        if path.exists():
            return MasterKey(read_key_file(path), str(path))
        if not create:
            raise MasterKeyError(f"no master key: set {MASTER_KEY_ENV} or provide {path}")
        return MasterKey(create_key_file(path), str(path))

    def wrap(self, subject_id: str, dek: bytes) -> bytes:
        """Seal a data key for ``subject_id``: nonce || ciphertext+tag."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, dek, _WRAP_AAD + subject_id.encode())

    def unwrap(self, subject_id: str, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self.key).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD + subject_id.encode()
            )
        except InvalidTag as exc:
            raise MasterKeyError(
                f"cannot unwrap the data key of subject {subject_id}: wrong master key "
                "or damaged key record"
            ) from exc

    def check_value(self) -> bytes:
        """A sealed constant stored with the database to detect a wrong master key at open."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, _CHECK_PLAIN, _CHECK_AAD)

    def verify_check_value(self, sealed: bytes) -> None:
        try:
            AESGCM(self.key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _CHECK_AAD)
        except InvalidTag as exc:
            raise MasterKeyError(
                f"the master key from {self.source} does not open this store "
                f"(fingerprint {self.fingerprint})"
            ) from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def _template_aad(subject_id: str, pack: str) -> bytes:
    return _SEAL_AAD + subject_id.encode() + b"/" + pack.encode()


def seal_vector(dek: bytes, subject_id: str, pack: str, vector: FloatArray) -> bytes:
    """Encrypt one embedding (little-endian float32) under the subject's data key."""
    plain = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(dek).encrypt(nonce, plain, _template_aad(subject_id, pack))


def open_vector(dek: bytes, subject_id: str, pack: str, sealed: bytes) -> FloatArray:
    """Decrypt one embedding sealed by :func:`seal_vector`."""
    try:
        plain = AESGCM(dek).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _template_aad(subject_id, pack)
        )
    except InvalidTag as exc:
        raise StoreCorruptError(
            f"a template of subject {subject_id} failed its integrity check"
        ) from exc
    return np.frombuffer(plain, dtype="<f4").astype(np.float32)
