"""Payment accounts: the second factor the payer types, and the PIN, never stored in clear.

A payer's account ties a subject (enrolled and consented for the payment purpose) to:

- a **phone tag**: ``HMAC-SHA256(k, "phone4:" + last four digits)``, ``k`` derived from the
  master key with HKDF. Four digits have only 10,000 values, so a plain hash would be reversed
  at once; the keyed tag cannot be without the master key. At the till the payer types the
  digits; the search then compares the face only with the accounts carrying that tag (about
  1/10,000 of them), which is what makes 1:N at a till safe at a strict operating point.
- a **PIN hash** (scrypt, per-account salt) for the step-up and the PIN-only path.

Erasing the subject deletes the account (foreign key, cascade).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from facegate.errors import AccountNotFoundError, ConfigError, InvalidRequestError, StoreError
from facegate.gallery.service import Gallery
from facegate.privacy.audit import Actor, AuditEvent
from facegate.store.schema import PayAccountRow, utcnow
from facegate.store.sql import SqlStore

_INFO = b"facegate/apps/pay-second-factor/v1"
_DIGITS = re.compile(r"^[0-9]{4}$")
_PIN = re.compile(r"^[0-9]{4,8}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True, slots=True)
class PayAccount:
    id: str
    subject_id: str
    created_at: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "account_id": self.id,
            "subject_id": self.subject_id,
            "created_at": self.created_at.isoformat(),
        }


def check_digits(digits: str) -> str:
    if not _DIGITS.match(digits):
        raise InvalidRequestError("the second factor is the last 4 digits of a phone number")
    return digits


def check_pin_format(pin: str) -> str:
    if not _PIN.match(pin):
        raise InvalidRequestError("a PIN is 4 to 8 digits")
    return pin


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        check_pin_format(pin).encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def pin_matches(stored: str, pin: str) -> bool:
    kind, n, r, p, salt, digest = stored.split("$")
    if kind != "scrypt" or not _PIN.match(pin):
        return False
    got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got.hex(), digest)


class PayAccounts:
    """Create and look up payment accounts in the gallery's database."""

    def __init__(self, gallery: Gallery) -> None:
        store = gallery.store
        if not isinstance(store, SqlStore):
            raise ConfigError("payment accounts need the SQL store")
        self._gallery = gallery
        self._tx = gallery.audit.transactions
        self._key = HKDF(hashes.SHA256(), 32, salt=None, info=_INFO).derive(store.master_key.key)

    def phone_tag(self, digits: str) -> str:
        message = b"phone4:" + check_digits(digits).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def create(
        self, subject_id: str, phone_last4: str, pin: str, actor: Actor | None = None
    ) -> PayAccount:
        """An account for ``subject_id`` (one per subject); audited as ``pay.account``."""
        subject = self._gallery.store.get_subject(subject_id)
        tag, pin_hash = self.phone_tag(phone_last4), hash_pin(pin)
        with self._tx.write() as s:
            if s.scalar(select(PayAccountRow).where(PayAccountRow.subject_row == subject.row)):
                raise StoreError(f"subject {subject.id} already has a payment account")
            row = PayAccountRow(
                id="pa_" + secrets.token_hex(8),
                subject_row=subject.row,
                phone_tag=tag,
                pin_hash=pin_hash,
                created_at=utcnow(),
            )
            s.add(row)
            event = AuditEvent("pay.account", None, (subject.id,), f"account {row.id} created")
            self._gallery.audit.append(event, actor)
        return PayAccount(row.id, subject.id, row.created_at)

    def get(self, account_id: str) -> tuple[PayAccount, int, str]:
        """The account, its subject row and its PIN hash."""
        with self._tx.read() as s:
            row = s.get(PayAccountRow, account_id)
            if row is None:
                raise AccountNotFoundError(f"no payment account {account_id!r}")
            subject_row, pin_hash, created = row.subject_row, row.pin_hash, row.created_at
        found = self._gallery.store.subjects_by_row([subject_row])
        if subject_row not in found:
            raise AccountNotFoundError(f"no payment account {account_id!r}")
        return PayAccount(account_id, found[subject_row].id, created), subject_row, pin_hash

    def with_tag(self, digits: str, limit: int) -> dict[int, str]:
        """Subject row -> account id of every account whose phone tag matches ``digits``
        (at most ``limit`` + 1, so that the caller can tell that there were too many)."""
        tag = self.phone_tag(digits)
        query = (
            select(PayAccountRow.subject_row, PayAccountRow.id)
            .where(PayAccountRow.phone_tag == tag)
            .limit(limit + 1)
        )
        with self._tx.read() as s:
            return {row: aid for row, aid in s.execute(query)}
