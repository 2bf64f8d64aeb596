"""Persistence of access control: sites, schedule windows, cards and PINs (keyed hashes).

Card numbers and PINs are never stored: only ``HMAC-SHA256(k, site | kind | value)`` with
``k`` derived from the master key (HKDF), so a stolen database does not give them away and a
lookup is still one indexed query. A site's webhook secret is stored sealed by the master key.
Every method joins the write transaction open in its context (see
:mod:`facegate.store.transactions`), so a change and its audit record commit together.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facegate.apps.access import Site, Window
from facegate.errors import AppRecordNotFoundError, InvalidRequestError, StoreError
from facegate.store.crypto import MasterKey
from facegate.store.schema import SubjectRow
from facegate.store.schema_apps import AccessCredentialRow, AccessScheduleRow, AccessSiteRow
from facegate.store.transactions import Transactions

_HKDF_INFO = b"facegate/access-credentials/v1"
CREDENTIAL_KINDS = ("card", "pin")


def _site(row: AccessSiteRow) -> Site:
    return Site(row.name, row.purpose, row.description, row.timezone, row.webhook_url)


def _days_text(days: frozenset[int]) -> str:
    return "".join(str(d) for d in sorted(days))


class AccessStore:
    """Sites, windows and credentials in the gallery's database."""

    def __init__(self, tx: Transactions, master: MasterKey, clock: Callable[[], datetime]):
        self.tx = tx
        self._master = master
        self._clock = clock
        self._key = HKDF(hashes.SHA256(), 32, salt=None, info=_HKDF_INFO).derive(master.key)

    # sites

    def put_site(self, site: Site, webhook_secret: bytes | None) -> Site:
        sealed = self._master.wrap(f"site:{site.name}", webhook_secret) if webhook_secret else None
        with self.tx.write() as s:
            row = s.get(AccessSiteRow, site.name)
            if row is None:
                row = AccessSiteRow(name=site.name, created_at=self._clock())
                s.add(row)
            row.purpose, row.description, row.timezone = (
                site.purpose,
                site.description,
                site.timezone,
            )
            row.webhook_url, row.webhook_secret = site.webhook_url, sealed
            s.flush()
            return _site(row)

    def get_site(self, name: str) -> Site:
        with self.tx.read() as s:
            row = s.get(AccessSiteRow, name)
            if row is None:
                raise AppRecordNotFoundError(f"no access site {name!r}")
            return _site(row)

    def list_sites(self) -> list[Site]:
        with self.tx.read() as s:
            return [_site(r) for r in s.scalars(select(AccessSiteRow).order_by(AccessSiteRow.name))]

    def webhook_secret(self, name: str) -> bytes | None:
        with self.tx.read() as s:
            row = s.get(AccessSiteRow, name)
            if row is None or row.webhook_secret is None:
                return None
            return self._master.unwrap(f"site:{name}", row.webhook_secret)

    # schedule windows

    def add_window(self, site: str, window: Window, subject_row: int | None) -> int:
        with self.tx.write() as s:
            self._require_site(s, site)
            row = AccessScheduleRow(
                site=site,
                subject_row=subject_row,
                weekdays=_days_text(window.weekdays),
                start_minute=window.start_minute,
                end_minute=window.end_minute,
            )
            s.add(row)
            s.flush()
            return row.id

    def remove_window(self, site: str, window_id: int) -> bool:
        with self.tx.write() as s:
            done = s.execute(
                delete(AccessScheduleRow).where(
                    AccessScheduleRow.site == site, AccessScheduleRow.id == window_id
                )
            )
            return bool(getattr(done, "rowcount", 0))

    def windows(self, site: str) -> list[tuple[int, Window]]:
        """The site's windows (id, window), with each subject's public id."""
        query = (
            select(AccessScheduleRow, SubjectRow.id)
            .outerjoin(SubjectRow, SubjectRow.row == AccessScheduleRow.subject_row)
            .where(AccessScheduleRow.site == site)
            .order_by(AccessScheduleRow.id)
        )
        with self.tx.read() as s:
            return [
                (
                    row.id,
                    Window(
                        frozenset(int(c) for c in row.weekdays),
                        row.start_minute,
                        row.end_minute,
                        subject_id,
                    ),
                )
                for row, subject_id in s.execute(query)
            ]

    # cards and PINs

    def digest(self, site: str, kind: str, value: str) -> str:
        if kind not in CREDENTIAL_KINDS:
            raise InvalidRequestError(f"credential kind must be card or pin, not {kind!r}")
        message = f"{site}\n{kind}\n{value.strip()}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def add_credential(self, site: str, subject_row: int, kind: str, value: str) -> int:
        if kind == "pin" and not (value.isdigit() and 4 <= len(value) <= 12):
            raise InvalidRequestError("a PIN is 4 to 12 digits")
        if kind == "card" and not 4 <= len(value.strip()) <= 128:
            raise InvalidRequestError("a card number is 4 to 128 characters")
        digest = self.digest(site, kind, value)
        try:
            with self.tx.write() as s:
                self._require_site(s, site)
                row = AccessCredentialRow(
                    site=site,
                    subject_row=subject_row,
                    kind=kind,
                    digest=digest,
                    created_at=self._clock(),
                )
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            raise StoreError(f"that {kind} is already in use at site {site!r}") from None

    def remove_credential(self, site: str, credential_id: int) -> int | None:
        """Delete a card or PIN; the holder's subject row, or None if there was none."""
        with self.tx.write() as s:
            row = s.get(AccessCredentialRow, credential_id)
            if row is None or row.site != site:
                return None
            holder = row.subject_row
            s.delete(row)
            return holder

    def credential_subject(self, site: str, kind: str, value: str) -> str | None:
        """The public id of the subject holding this card or PIN at ``site``, or None."""
        digest = self.digest(site, kind, value)
        query = (
            select(SubjectRow.id)
            .join(AccessCredentialRow, AccessCredentialRow.subject_row == SubjectRow.row)
            .where(
                AccessCredentialRow.site == site,
                AccessCredentialRow.kind == kind,
                AccessCredentialRow.digest == digest,
            )
        )
        with self.tx.read() as s:
            return s.scalars(query).first()

    @staticmethod
    def _require_site(s: Session, site: str) -> None:
        if s.get(AccessSiteRow, site) is None:
            raise AppRecordNotFoundError(f"no access site {site!r}")
