"""API keys: random secrets stored as SHA-256, each bound to scopes and purposes.

A key reads ``fg_<id>_<secret>``: ``id`` (12 hex digits) is public and names the key in logs
and audit records; ``secret`` (32 random bytes, URL-safe base64) is shown once at creation and
stored only as its SHA-256, compared in constant time. Scopes say what a key may do
(``detect``, ``verify``, ``identify``, ``enroll``, ``admin``; ``admin`` implies the others);
purposes say for which purposes (``*`` for any). Keys live in the gallery's database, so
``facegate keys`` works on a data dir without a running server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, select

from facegate.errors import ApiKeyNotFoundError, AuthenticationError, ConfigError
from facegate.privacy.audit import Actor, AuditChain, AuditEvent
from facegate.store import migrate
from facegate.store.engines import store_engine
from facegate.store.schema import ApiKeyRow, utcnow
from facegate.store.transactions import Transactions

SCOPES: Final = ("detect", "verify", "identify", "enroll", "admin")
ANY_PURPOSE: Final = "*"
_PREFIX: Final = "fg"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What is known about a key (never its secret)."""

    id: str
    name: str
    scopes: frozenset[str]
    purposes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def any_purpose(self) -> bool:
        return ANY_PURPOSE in self.purposes

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or self.is_admin

    def allows_purpose(self, purpose: str) -> bool:
        return self.any_purpose or purpose in self.purposes

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "purposes": sorted(self.purposes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key and its full secret token, which is never stored."""

    key: ApiKey
    token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(values: str) -> frozenset[str]:
    return frozenset(v for v in values.split(",") if v)


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        row.id, row.name, _split(row.scopes), _split(row.purposes), row.created_at, row.revoked_at
    )


def parse_list(values: str | list[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` as a clean list of names."""
    items = [values] if isinstance(values, str) else list(values or [])
    return sorted({v.strip() for item in items for v in item.split(",") if v.strip()})


class KeyStore:
    """Create, list, revoke and check API keys in the gallery database."""

    def __init__(self, engine: Engine, audit: AuditChain | None = None) -> None:
        migrate.upgrade(engine)
        self._engine = engine
        self._audit = audit
        # with an audit chain, a key change and its record share one transaction
        self._tx = audit.transactions if audit is not None else Transactions(engine)

    @classmethod
    def open(cls, home: Path, audit: AuditChain | None = None, url: str | None = None) -> KeyStore:
        """The key store of data dir ``home`` (or of the database at ``url``); with
        ``audit``, key changes are recorded."""
        return cls(store_engine(home, url), audit)

    def _record(self, operation: str, decision: str, actor: Actor | None) -> None:
        if self._audit is not None:
            self._audit.append(AuditEvent(operation, None, (), decision), actor)

    def close(self) -> None:
        self._engine.dispose()

    def create(
        self, scopes: list[str], purposes: list[str], name: str = "", actor: Actor | None = None
    ) -> NewKey:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ConfigError(
                f"bad scopes {', '.join(unknown) or '(none)'}: choose from {', '.join(SCOPES)}"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=key_id,
            secret_sha256=_digest(secret),
            name=name,
            scopes=",".join(sorted(set(scopes))),
            purposes=",".join(sorted(set(purposes))),
            created_at=utcnow(),
        )
        detail = f"key {key_id} created: scopes {row.scopes}; purposes {row.purposes or '-'}"
        with self._tx.write() as s:
            s.add(row)
            self._record("key.create", detail, actor)
        return NewKey(_key(row), f"{_PREFIX}_{key_id}_{secret}")

    def list(self) -> list[ApiKey]:
        with self._tx.read() as s:
            return [_key(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def revoke(self, key_id: str, actor: Actor | None = None) -> ApiKey:
        with self._tx.write() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise ApiKeyNotFoundError(f"no API key with id {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            key = _key(row)
            self._record("key.revoke", f"key {key_id} revoked", actor)
        return key

    def authenticate(self, token: str) -> ApiKey:
        """The active key whose secret is ``token``; :class:`AuthenticationError` otherwise."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _PREFIX or not key_id or not secret:
            raise AuthenticationError("malformed API key")
        with self._tx.read() as s:
            row = s.get(ApiKeyRow, key_id)
            stored = row.secret_sha256 if row is not None else _digest("")
            if not hmac.compare_digest(stored, _digest(secret)) or row is None:
                raise AuthenticationError("unknown API key")
            if row.revoked_at is not None:
                raise AuthenticationError("this API key has been revoked")
            return _key(row)

    def ensure_admin(self, actor: Actor | None = None) -> NewKey | None:
        """Create an admin key for any purpose if no active key exists (first start).

        The check and the creation are one write transaction under the store's writer lock
        (:mod:`facegate.store.transactions`), so servers starting at once on an empty
        database create one admin key between them; the others see it and create none."""
        with self._tx.write():
            if any(k.revoked_at is None for k in self.list()):
                return None
            name = "admin (created on first start)"
            return self.create(list(SCOPES), [ANY_PURPOSE], name=name, actor=actor)
