"""Application decision records: one row per decision, committed with its audit record.

>>> log = DecisionLog(gallery)
>>> rec = log.record(Decision("payment", "payment", "approve", subject_id=sid,
...                           operating_point="fmr=1e-05", detail={"amount_band": "large"}))
>>> rec.audit_seq        # the audit chain record written in the same transaction

A decision names the application (``payment``, ``registration``, ``access``...), the purpose,
its ``outcome`` (see :data:`OUTCOMES`), the operating point used, the liveness result and plain
``detail`` facts (amount band, image SHA-256s, the alternative method...). The subject appears
only as the audit chain's keyed pseudonym (``subject_ref``), so erasing a subject leaves its
decisions in place without naming anyone. Never images, embeddings, names or exact scores.

The audit record is ``operation = "app.<app>"`` with decision ``"<outcome>[ at <point>]; ..."``;
both rows are written in one store transaction: a crash leaves both or neither.

Choosing the alternative path (:meth:`DecisionLog.alternative`) is a decision like any other,
with outcome ``alternative``: it names nobody, carries no score, and nothing reads it to
penalise, rank or prompt the person again (see :mod:`facegate.apps.attempts`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from facegate.errors import InvalidRequestError
from facegate.privacy.audit import Actor, AuditChain, AuditEvent
from facegate.store.schema import AppDecisionRow, utcnow
from facegate.store.transactions import Transactions

if TYPE_CHECKING:
    from facegate.gallery.service import Gallery

OUTCOMES: Final = frozenset(
    {
        "approve",  # payment approved
        "step-up",  # payment needs the PIN as well
        "decline",  # payment declined
        "accept",  # registration: the selfie is the document's holder
        "reject",  # registration: it is not, or the document shows no usable portrait
        "review",  # a person must decide (exam impostor suspected, ...)
        "open",  # access: door opened
        "deny",  # access: door stays shut
        "present",  # attendance
        "alternative",  # the person chose the non-face path
        "refused",  # the request could not be decided (no liveness, no face, ...)
    }
)
"""Outcomes an application decision may have; an app may add its own (``[a-z-]{1,16}``)."""

Detail = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True, slots=True)
class Decision:
    """An application decision, as the application states it."""

    app: str
    purpose: str | None
    outcome: str
    subject_id: str | None = None
    operating_point: str | None = None
    liveness: str | None = None
    score: float | None = None  # goes to the audit chain as a coarse band only
    detail: Detail = field(default_factory=dict)

    def summary(self) -> str:
        """The audit decision text: outcome, operating point, liveness (at most 128 chars)."""
        text = self.outcome + (f" at {self.operating_point}" if self.operating_point else "")
        for key in ("amount_band", "method", "reason"):
            if key in self.detail and self.detail[key] is not None:
                text += f"; {key.replace('_', ' ')} {self.detail[key]}"
        if self.liveness:
            text += f"; {self.liveness}"
        return text[:128]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A stored decision (the subject named only by its keyed pseudonym)."""

    id: str
    app: str
    purpose: str | None
    at: datetime
    outcome: str
    operating_point: str | None
    liveness: str | None
    subject_ref: str | None
    audit_seq: int
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "purpose": self.purpose,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "operating_point": self.operating_point,
            "liveness": self.liveness,
            "subject_ref": self.subject_ref,
            "audit_seq": self.audit_seq,
            "detail": self.detail,
        }


def _record(row: AppDecisionRow) -> DecisionRecord:
    return DecisionRecord(
        row.id,
        row.app,
        row.purpose,
        row.at,
        row.outcome,
        row.operating_point,
        row.liveness,
        row.subject_ref,
        row.audit_seq,
        json.loads(row.detail),
    )


def _check(decision: Decision) -> None:
    for name, value in (("app", decision.app), ("outcome", decision.outcome)):
        if not value or len(value) > 16 or not all(c.isalnum() or c == "-" for c in value):
            raise InvalidRequestError(f"bad {name} {value!r}: 1-16 letters, digits or '-'")
    for key, fact in decision.detail.items():
        if not isinstance(fact, str | int | float | bool | type(None)):
            raise InvalidRequestError(f"decision detail {key!r} must be a plain value")


class DecisionLog:
    """Write and read application decisions in the gallery's database."""

    def __init__(self, audit: AuditChain, clock: Callable[[], datetime] = utcnow) -> None:
        self._audit = audit
        self._tx: Transactions = audit.transactions
        self._clock = clock

    @classmethod
    def of(cls, gallery: Gallery) -> DecisionLog:
        """The decision log of a :class:`facegate.gallery.service.Gallery`."""
        return cls(gallery.audit)

    def record(self, decision: Decision, actor: Actor | None = None) -> DecisionRecord:
        """Store ``decision`` and its audit record in one transaction."""
        _check(decision)
        ids = (decision.subject_id,) if decision.subject_id else ()
        event = AuditEvent(
            f"app.{decision.app}", decision.purpose, ids, decision.summary(), decision.score
        )
        ref = self._audit.subject_ref(decision.subject_id) if decision.subject_id else None
        with self._tx.write() as s:
            audit = self._audit.append(event, actor)
            row = AppDecisionRow(
                id="dc_" + secrets.token_hex(12),
                app=decision.app,
                purpose=decision.purpose,
                at=self._clock(),
                outcome=decision.outcome,
                operating_point=decision.operating_point,
                liveness=decision.liveness,
                subject_ref=ref,
                audit_seq=audit.seq,
                detail=json.dumps(dict(decision.detail), sort_keys=True),
            )
            s.add(row)
            s.flush()
            return _record(row)

    def alternative(
        self,
        app: str,
        purpose: str | None,
        method: str,
        actor: Actor | None = None,
        attempt_id: str | None = None,
    ) -> DecisionRecord:
        """Record that a person chose the non-face path (``method``: ``pin``, ``qr``, ``card``,
        ``staff``...). Names nobody; nothing reads it to penalise or prompt again."""
        detail: dict[str, str | int | float | bool | None] = {"method": method[:32]}
        if attempt_id:
            detail["attempt"] = attempt_id
        return self.record(Decision(app, purpose, "alternative", detail=detail), actor)

    def get(self, decision_id: str) -> DecisionRecord | None:
        with self._tx.read() as s:
            row = s.get(AppDecisionRow, decision_id)
            return _record(row) if row is not None else None

    def records(
        self,
        app: str | None = None,
        *,
        purpose: str | None = None,
        outcome: str | None = None,
        subject_id: str | None = None,
        limit: int = 100,
    ) -> list[DecisionRecord]:
        """The newest decisions matching every filter given."""
        query = select(AppDecisionRow)
        if app is not None:
            query = query.where(AppDecisionRow.app == app)
        if purpose is not None:
            query = query.where(AppDecisionRow.purpose == purpose)
        if outcome is not None:
            query = query.where(AppDecisionRow.outcome == outcome)
        if subject_id is not None:
            query = query.where(AppDecisionRow.subject_ref == self._audit.subject_ref(subject_id))
        query = query.order_by(AppDecisionRow.audit_seq.desc()).limit(max(1, min(limit, 1000)))
        with self._tx.read() as s:
            return [_record(r) for r in s.scalars(query)]
