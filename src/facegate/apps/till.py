"""The till's workflow: find the payer, decide, record, and the PIN step-up and PIN-only paths.

>>> till = Till(gallery, PaymentConfig(), PayAccounts(gallery))
>>> outcome = till.pay_by_face(capture, amount, evidence, phone_last4="1234", actor=actor)
>>> outcome.outcome, outcome.receipt["operating_point"]

The payer is found either by 1:N within the payment purpose narrowed by the second factor
(only accounts whose phone tag matches the typed digits are compared) or 1:1 against one
account. A passed liveness session is required for every face payment, whatever the purpose's
policy says, and its face must be the probe's. Only :attr:`Capture.raw` is analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from facegate.apps.decisions import Decision, DecisionLog, DecisionRecord
from facegate.apps.notices import require_notice
from facegate.apps.pay_accounts import PayAccounts, pin_matches
from facegate.apps.payment import BandPoints, Capture, band_for, band_points, decide
from facegate.config import PaymentConfig
from facegate.errors import InvalidRequestError, LivenessRequiredError, NoFaceError
from facegate.gallery.service import Gallery
from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor
from facegate.types import Face, FloatArray


@dataclass(frozen=True, slots=True)
class PayerMatch:
    """The best account for a probe face among those compared."""

    account_id: str | None
    subject_id: str | None
    similarity: float | None
    runner_up: float | None
    candidates: int
    mode: str  # "face+phone4" or "face+account"


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    outcome: str  # approve | step-up | decline
    record: DecisionRecord
    receipt: dict[str, Any]
    match: PayerMatch
    points: BandPoints | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _largest(faces: list[Face]) -> Face:
    embedded = [f for f in faces if f.embedding is not None]
    if not embedded:
        raise NoFaceError("no face found in the till's frame")
    return max(embedded, key=lambda f: f.box.area)


class Till:
    """Payment decisions over a gallery (one per server; thread-safe through the gallery)."""

    def __init__(self, gallery: Gallery, config: PaymentConfig, accounts: PayAccounts) -> None:
        self.gallery = gallery
        self.config = config
        self.accounts = accounts
        self.decisions = DecisionLog.of(gallery)

    @property
    def purpose(self) -> str:
        return self.config.purpose

    def _vectors(self, subject_id: str) -> FloatArray:
        pack = self.gallery.engine.pack_id
        return self.gallery.store.subject_vectors(subject_id, pack, self.purpose)

    def find_payer(
        self, probe: FloatArray, phone_last4: str | None, account_id: str | None
    ) -> PayerMatch:
        """Compare ``probe`` with the accounts the second factor (or the account id) names,
        among subjects with an active consent for the payment purpose."""
        if (phone_last4 is None) == (account_id is None):
            raise InvalidRequestError("give either phone_last4 or account_id")
        if account_id is not None:
            account, row, _ = self.accounts.get(account_id)
            accounts = {row: account.id}
            mode = "face+account"
        else:
            accounts = self.accounts.with_tag(phone_last4 or "", self.config.max_candidates)
            if len(accounts) > self.config.max_candidates:
                raise InvalidRequestError("too many accounts share these digits: use the account")
            mode = "face+phone4"
        active = self.gallery.store.active_rows(self.purpose, sorted(accounts))
        subjects = self.gallery.store.subjects_by_row(sorted(active))
        scored = []
        for row, subject in subjects.items():
            vectors = self._vectors(subject.id)
            if len(vectors):
                scored.append((float(np.max(vectors @ probe)), subject.id, accounts[row]))
        scored.sort(reverse=True)
        if not scored:
            return PayerMatch(None, None, None, None, 0, mode)
        best = scored[0]
        runner = scored[1][0] if len(scored) > 1 else None
        return PayerMatch(best[2], best[1], best[0], runner, len(scored), mode)

    def pay_by_face(
        self,
        capture: Capture,
        amount: Decimal,
        evidence: LivenessEvidence | None,
        *,
        phone_last4: str | None = None,
        account_id: str | None = None,
        attempt_id: str | None = None,
        actor: Actor | None = None,
    ) -> PaymentOutcome:
        """Decide a face payment of ``amount`` on the raw frame of ``capture``."""
        require_notice(self.gallery, self.purpose)
        if evidence is None:
            raise LivenessRequiredError("a face payment needs a passed liveness session")
        face = _largest(self.gallery.engine.analyze(capture.raw).faces)
        if face.embedding is None:  # pragma: no cover - _largest keeps embedded faces only
            raise NoFaceError("no face found in the till's frame")
        probe = face.embedding.vector
        evidence.check(probe)
        match = self.find_payer(probe, phone_last4, account_id)
        band = band_for(amount, self.config)
        points = band_points(band, self.gallery.engine.calibration, max(1, match.candidates))
        ambiguous = (
            match.runner_up is not None
            and points.step_up is not None
            and match.runner_up >= points.step_up.threshold
        )
        outcome = decide(match.similarity, points, ambiguous)
        named = match.subject_id if outcome != "decline" else None
        reached = match.similarity is not None and match.similarity >= points.approve.threshold
        point = points.approve if reached else points.step_up or points.approve
        detail = self._detail(amount, band.name, match, attempt_id, capture.sha256)
        detail["threshold"] = round(point.threshold, 4)
        detail["approve_point"] = points.approve.name
        detail["approve_threshold"] = round(points.approve.threshold, 4)
        record = self.decisions.record(
            Decision(
                "payment", self.purpose, outcome, named, point.name, evidence.describe(),
                match.similarity, detail,
            ),
            actor,
        )  # fmt: skip
        receipt = self.receipt(record, amount)
        context = {"account_id": match.account_id, "subject_id": match.subject_id}
        return PaymentOutcome(outcome, record, receipt, match, points, context)

    def _detail(
        self, amount: Decimal, band: str, match: PayerMatch, attempt: str | None, sha: str
    ) -> dict[str, str | int | float | bool | None]:
        return {
            "amount": str(amount),
            "currency": self.config.currency,
            "amount_band": band,
            "method": match.mode,
            "candidates": match.candidates,
            "attempt": attempt,
            "image_sha256": sha,
        }

    def pay_by_pin(
        self,
        account_id: str,
        pin: str,
        amount: Decimal,
        *,
        step_up_of: DecisionRecord | None = None,
        attempt_id: str | None = None,
        actor: Actor | None = None,
    ) -> tuple[str, DecisionRecord]:
        """The PIN after a step-up (``step_up_of``), or the PIN-only path (no face at all)."""
        account, _, pin_hash = self.accounts.get(account_id)
        ok = pin_matches(pin_hash, pin)
        outcome = "approve" if ok else "decline"
        method = "face+pin" if step_up_of is not None else "pin"
        detail: dict[str, str | int | float | bool | None] = {
            "amount": str(amount),
            "currency": self.config.currency,
            "amount_band": band_for(amount, self.config).name,
            "method": method,
            "attempt": attempt_id,
            "reason": None if ok else "wrong PIN",
        }
        point = step_up_of.operating_point if step_up_of is not None else None
        record = self.decisions.record(
            Decision("payment", self.purpose, outcome, account.subject_id, point, detail=detail),
            actor,
        )
        return outcome, record

    def receipt(self, record: DecisionRecord, amount: Decimal) -> dict[str, Any]:
        """What the till prints: amount, outcome, how the payer was recognised, the operating
        point and threshold, the decision id and its audit record (no name, no score)."""
        return {
            "decision_id": record.id,
            "audit_seq": record.audit_seq,
            "at": record.at.isoformat(),
            "amount": str(amount),
            "currency": self.config.currency,
            "outcome": record.outcome,
            "method": record.detail.get("method"),
            "amount_band": record.detail.get("amount_band"),
            "operating_point": record.operating_point,
            "threshold": record.detail.get("threshold"),
            "approve_point": record.detail.get("approve_point"),
            "approve_threshold": record.detail.get("approve_threshold"),
            "calibration": self.gallery.engine.calibration.label,
            "liveness": record.liveness,
        }
