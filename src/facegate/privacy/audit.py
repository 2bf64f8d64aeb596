"""The audit chain: one keyed-hash-linked record per biometric operation.

Every detect, enrol, identify, verify, export, erasure, consent change, purpose change, key
change and retention sweep appends one :class:`AuditRecord`: when, which key (or local actor),
the request id, the operation, the purpose, keyed pseudonyms of the subject ids, the decision
and a coarse score band. Never images, embeddings, names or exact scores.

Each record carries ``mac = HMAC-SHA256(k, canonical(record, prev_mac))``, where ``prev_mac``
is the previous record's MAC (64 zeros for the first) and ``k`` is derived from the master key
with HKDF; it is never stored in the database. Whoever can write the database but does not hold
the master key cannot edit, delete, insert or reorder records without :meth:`AuditChain.verify`
noticing, and it names the first bad record. Records are numbered ``seq`` = 1, 2, 3, ... with no
gaps. An append joins the write transaction open in its context (the gallery write it
describes, see :mod:`facegate.store.transactions`), so the record and the write commit
together or not at all; otherwise it is a transaction of its own. Writers (threads, or a CLI
beside the server) are serialised by the store's writer lock, taken first in every write
transaction, so ``seq`` is allocated in commit order.

Limits, said plainly: deleting records *at the end* of the chain together with the stored head
(``store_meta.audit_head``) is indistinguishable from a shorter chain; keep the head somewhere
else (``facegate audit head``, ``verify --anchor SEQ:MAC``) to detect that. Whoever holds the
master key can rewrite the whole chain.

Subject ids are stored as ``ref = HMAC(k, "subject:" + id)[:32 hex]``: after a subject is erased
its records stay (the chain needs them) but no longer name anyone in the database; with the
master key and the id, the records about a subject can still be found (subject access export).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker

from facegate.errors import StoreError
from facegate.store.crypto import MasterKey
from facegate.store.schema import AuditRow, MetaRow
from facegate.store.transactions import Transactions

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
GENESIS = "0" * 64
HEAD_KEY = "audit_head"
_VERSION = 1
_HKDF_INFO = b"facegate/audit-chain/v1"
_RETRIES = 50
# The widths of the audit_chain columns (store.schema.AuditRow). A longer value is refused
# where it is made, never cut: a record must say exactly who did what.
KEY_ID_MAX = 64
REQUEST_ID_MAX = 64
OPERATION_MAX = 32
PURPOSE_MAX = 64


def utc_clock() -> datetime:
    return datetime.now(UTC)


def stamp(at: datetime) -> str:
    """The fixed-width text form of a UTC time that the chain stores and MACs."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def score_band(similarity: float | None) -> str | None:
    """A coarse band (width 0.1) instead of the exact score, e.g. ``0.6-0.7``."""
    if similarity is None:
        return None
    low = min(max(int(similarity * 10), -10), 9) / 10
    return f"{low:.1f}-{low + 0.1:.1f}"


def _check_width(field_name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise StoreError(
            f"audit {field_name} is {len(value)} characters long; the audit chain keeps at most "
            f"{limit} and never shortens a value: use a shorter {field_name}"
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an API key id (``a1b2c3d4e5f6``) or a local actor (``cli``, ``python``).

    ``key_id`` and ``request_id`` hold at most 64 characters each; a longer one raises
    :class:`~facegate.errors.StoreError` here, before anything is written.
    """

    key_id: str = "python"
    request_id: str = ""

    def __post_init__(self) -> None:
        _check_width("key_id", self.key_id, KEY_ID_MAX)
        _check_width("request_id", self.request_id, REQUEST_ID_MAX)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened, as a caller states it; :meth:`AuditChain.append` links and stores it.

    ``operation`` holds at most 32 characters and ``purpose`` 64; a longer one raises
    :class:`~facegate.errors.StoreError` here, before anything is written.
    """

    operation: str
    purpose: str | None = None
    subject_ids: Sequence[str] = ()
    decision: str = ""
    score: float | None = None

    def __post_init__(self) -> None:
        _check_width("operation", self.operation, OPERATION_MAX)
        if self.purpose is not None:
            _check_width("purpose", self.purpose, PURPOSE_MAX)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str
    key_id: str
    request_id: str
    operation: str
    purpose: str | None
    subject_refs: tuple[str, ...]
    decision: str
    score_band: str | None
    prev_mac: str
    mac: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "key_id": self.key_id,
            "request_id": self.request_id,
            "operation": self.operation,
            "purpose": self.purpose,
            "subject_refs": list(self.subject_refs),
            "decision": self.decision,
            "score_band": self.score_band,
            "prev_mac": self.prev_mac,
            "mac": self.mac,
        }


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The outcome of :meth:`AuditChain.verify`: ``first_bad`` is the seq where it breaks."""

    ok: bool
    records: int
    head_seq: int
    head_mac: str
    first_bad: int | None = None
    problem: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": f"{self.head_seq}:{self.head_mac}",
            "first_bad": self.first_bad,
            "problem": self.problem,
            "notes": self.notes,
        }


def _record(row: AuditRow) -> AuditRecord:
    refs = tuple(row.subject_refs.split()) if row.subject_refs else ()
    return AuditRecord(
        row.seq,
        row.at,
        row.key_id,
        row.request_id,
        row.operation,
        row.purpose,
        refs,
        row.decision,
        row.score_band,
        row.prev_mac,
        row.mac,
    )


def _canonical(
    seq: int,
    at: str,
    key_id: str,
    request_id: str,
    operation: str,
    purpose: str | None,
    refs: Sequence[str],
    decision: str,
    band: str | None,
    prev_mac: str,
) -> bytes:
    fields = [_VERSION, seq, at, key_id, request_id, operation, purpose, list(refs), decision]
    fields += [band, prev_mac]
    return json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode()


class AuditChain:
    """Append to, read and verify the chain in the gallery database."""

    def __init__(
        self, db: Transactions | Engine, master: MasterKey, clock: Clock = utc_clock
    ) -> None:
        """``db``: the store's :class:`Transactions` (appends join its open transaction), or
        an engine for a chain used on its own."""
        self._tx = db if isinstance(db, Transactions) else Transactions(db)
        self._sessions = sessionmaker(self._tx.engine, expire_on_commit=False)
        self._key = HKDF(hashes.SHA256(), 32, salt=None, info=_HKDF_INFO).derive(master.key)
        self._clock = clock

    @property
    def transactions(self) -> Transactions:
        return self._tx

    def subject_ref(self, subject_id: str) -> str:
        """The keyed pseudonym under which records name ``subject_id``."""
        return hmac.new(self._key, b"subject:" + subject_id.encode(), hashlib.sha256).hexdigest()[
            :32
        ]

    def _mac(self, record: AuditRecord) -> str:
        message = _canonical(
            record.seq,
            record.at,
            record.key_id,
            record.request_id,
            record.operation,
            record.purpose,
            record.subject_refs,
            record.decision,
            record.score_band,
            record.prev_mac,
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def append(self, event: AuditEvent, actor: Actor | None = None) -> AuditRecord:
        """Link ``event`` to the head and store it, inside the open write transaction (it
        then commits with it) or in a transaction of its own."""
        who = actor or Actor()
        refs = tuple(self.subject_ref(s) for s in event.subject_ids)
        if self._tx.in_transaction:  # a failure fails the write it describes
            return self._append_once(event, who, refs)
        for attempt in range(_RETRIES):
            try:
                return self._append_once(event, who, refs)
            except (IntegrityError, OperationalError) as exc:
                if attempt == _RETRIES - 1:
                    raise StoreError(f"could not append to the audit chain: {exc}") from exc
                time.sleep(0.005 * (attempt + 1))
        raise StoreError("could not append to the audit chain")  # pragma: no cover

    def _append_once(self, event: AuditEvent, who: Actor, refs: tuple[str, ...]) -> AuditRecord:
        with self._tx.write() as s:
            last = s.execute(
                select(AuditRow.seq, AuditRow.mac).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
            seq, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
            unsigned = AuditRecord(
                seq,
                stamp(self._clock()),
                who.key_id,
                who.request_id,
                event.operation,
                event.purpose,
                refs,
                event.decision,
                score_band(event.score),
                prev,
                "",
            )
            mac = self._mac(unsigned)
            s.add(
                AuditRow(
                    seq=seq,
                    at=unsigned.at,
                    key_id=unsigned.key_id,
                    request_id=unsigned.request_id,
                    operation=unsigned.operation,
                    purpose=unsigned.purpose,
                    subject_refs=" ".join(refs),
                    decision=unsigned.decision,
                    score_band=unsigned.score_band,
                    prev_mac=prev,
                    mac=mac,
                )
            )
            s.merge(MetaRow(key=HEAD_KEY, value=f"{seq}:{mac}".encode()))
        return replace(unsigned, mac=mac)

    def records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        key_id: str | None = None,
        subject_id: str | None = None,
        operation: str | None = None,
        before: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Records matching every filter given (times: ``since <= at < until``)."""
        query = select(AuditRow)
        if since is not None:
            query = query.where(AuditRow.at >= stamp(since))
        if until is not None:
            query = query.where(AuditRow.at < stamp(until))
        if key_id is not None:
            query = query.where(AuditRow.key_id == key_id)
        if subject_id is not None:
            query = query.where(AuditRow.subject_refs.contains(self.subject_ref(subject_id)))
        if operation is not None:
            query = query.where(AuditRow.operation == operation)
        if before is not None:
            query = query.where(AuditRow.seq < before)
        query = query.order_by(AuditRow.seq.desc() if newest_first else AuditRow.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as s:
            return [_record(r) for r in s.scalars(query)]

    def _iter_all(self, batch: int = 2000) -> Iterator[AuditRecord]:
        with self._sessions() as s:
            result = s.execute(
                select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=batch)
            )
            for row in result.scalars():
                yield _record(row)

    def head(self) -> tuple[int, str]:
        """The stored head ``(seq, mac)`` (``(0, GENESIS)`` for an empty chain)."""
        with self._sessions() as s:
            row = s.get(MetaRow, HEAD_KEY)
        if row is None:
            return 0, GENESIS
        seq, _, mac = row.value.decode().partition(":")
        return int(seq), mac

    def verify(self, anchor: tuple[int, str] | None = None) -> ChainCheck:
        """Walk the chain; the first record that is edited, missing, inserted or out of place.

        ``anchor`` is a head ``(seq, mac)`` kept outside the database: the chain must contain
        it, which detects records deleted from the end together with the stored head.
        """
        expected, prev, count = 1, GENESIS, 0
        seen_anchor = anchor is None or anchor[0] == 0
        for record in self._iter_all():
            bad = self._check_link(record, expected, prev)
            if bad:
                return ChainCheck(False, count, expected - 1, prev, bad[0], bad[1])
            if anchor is not None and record.seq == anchor[0]:
                if record.mac != anchor[1]:
                    return ChainCheck(
                        False,
                        count,
                        expected - 1,
                        prev,
                        record.seq,
                        f"record {record.seq} is not the one the anchor names (rewritten chain)",
                    )
                seen_anchor = True
            prev, expected, count = record.mac, expected + 1, count + 1
        return self._check_head(count, prev, seen_anchor, anchor)

    def _check_link(self, record: AuditRecord, expected: int, prev: str) -> tuple[int, str] | None:
        if record.seq > expected:
            missing = (
                f"{expected}" if record.seq == expected + 1 else f"{expected}-{record.seq - 1}"
            )
            return expected, f"record {missing} is missing (deleted); the chain breaks there"
        if record.seq < expected:  # pragma: no cover - seq is the primary key
            return record.seq, f"record {record.seq} appears twice"
        if not hmac.compare_digest(record.prev_mac, prev):
            return record.seq, (
                f"record {record.seq} does not link to record {record.seq - 1} "
                "(inserted, reordered, or the record before it was replaced)"
            )
        if not hmac.compare_digest(self._mac(record), record.mac):
            return record.seq, f"record {record.seq} does not match its MAC (edited or forged)"
        return None

    def _check_head(
        self, count: int, last_mac: str, seen_anchor: bool, anchor: tuple[int, str] | None
    ) -> ChainCheck:
        head_seq, head_mac = self.head()
        if (head_seq, head_mac) != (count, last_mac):
            return ChainCheck(
                False,
                count,
                count,
                last_mac,
                count + 1,
                f"the chain ends at record {count} but its stored head is record {head_seq}: "
                "records at the end were deleted",
            )
        if not seen_anchor and anchor is not None:
            return ChainCheck(
                False,
                count,
                count,
                last_mac,
                count + 1,
                f"the chain ends at record {count} before the anchor's record {anchor[0]}: "
                "records at the end were deleted",
            )
        notes = (
            []
            if anchor
            else [
                "no external anchor given: deleting the newest records "
                "together with the stored head would not be detected"
            ]
        )
        return ChainCheck(True, count, count, last_mac, notes=notes)


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:MAC`` as printed by ``facegate audit head``."""
    seq, sep, mac = text.strip().partition(":")
    if not sep or not seq.isdigit() or len(mac) != 64:
        raise StoreError(f"bad anchor {text!r}: expected SEQ:MAC as printed by 'audit head'")
    return int(seq), mac.lower()
