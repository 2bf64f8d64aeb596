"""ID-photo registration (SIM card, account opening): a live selfie against the portrait on a
photographed identity document.

>>> registrar = Registrar(gallery, RegistrationConfig())
>>> done = registrar.check(selfie_jpeg, document_jpeg, evidence, actor=actor)
>>> done.outcome, done.record.operating_point          # "accept", "print-live:fmr=0.001"

The selfie needs a passed liveness session whose face is the selfie's; the portrait is found
on the document image by :func:`facegate.apps.documents.find_portrait` (enlarging the image
for small printed portraits). The two are compared at a **cross-capture operating point**:
a printed, re-photographed portrait scores lower against a live face than two live captures
do, and impostor scores shift too, so the pack's live-vs-live calibration does not hold. The
point is calibrated on printed-vs-live pairs (``bench/registration_nuaa.py`` on NUAA's print
attacks and live captures, split by person) and shipped per pack in
``registration_points.json``; ``RegistrationConfig.operating_point`` overrides it with a
point of the pack's own calibration (calibrate on your own population: docs/BENCHMARKS.md).

The decision record keeps the outcome, the operating point and threshold, the liveness
result and the SHA-256 of both images, never the images (facegate stores no images; a purpose
with ``keep_images`` declares that the operator keeps them elsewhere).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from facegate.apps.decisions import Decision, DecisionLog, DecisionRecord
from facegate.apps.documents import Portrait, find_portrait
from facegate.apps.notices import require_notice
from facegate.config import ImageLimits, RegistrationConfig
from facegate.errors import LivenessRequiredError, NoFaceError
from facegate.gallery.service import Gallery
from facegate.imageio import decode
from facegate.liveness.evidence import LivenessEvidence
from facegate.pipeline.calibration import Calibration
from facegate.privacy.audit import Actor
from facegate.types import OperatingPoint

FALLBACK_POINT = "fmr=1e-3"


def shipped_points() -> dict[str, dict[str, Any]]:
    """The print-vs-live operating points calibrated per pack (``registration_points.json``)."""
    text = resources.files("facegate.apps").joinpath("registration_points.json").read_text()
    data: dict[str, dict[str, Any]] = json.loads(text)
    return data


def registration_point(
    calibration: Calibration, pack: str, config: RegistrationConfig
) -> OperatingPoint:
    """The configured point, else the pack's shipped print-vs-live point, else fmr=1e-3 of
    the pack's own (live-vs-live) calibration."""
    if config.operating_point:
        return calibration.operating_point(config.operating_point)
    shipped = shipped_points().get(pack)
    if shipped is not None:
        return OperatingPoint(
            str(shipped["name"]), float(shipped["threshold"]), f"{pack}:print-live"
        )
    return calibration.operating_point(FALLBACK_POINT)


@dataclass(frozen=True, slots=True)
class RegistrationOutcome:
    outcome: str  # accept | reject
    record: DecisionRecord
    point: OperatingPoint
    portrait: Portrait | None

    def to_dict(self) -> dict[str, Any]:
        box = self.portrait.face.box.as_list() if self.portrait else None
        return {
            "outcome": self.outcome,
            "decision_id": self.record.id,
            "audit_seq": self.record.audit_seq,
            "operating_point": self.point.name,
            "threshold": round(self.point.threshold, 4),
            "calibration": self.point.calibration,
            "liveness": self.record.liveness,
            "portrait_box": box,
            "portrait_scale": self.portrait.scale if self.portrait else None,
            "selfie_sha256": self.record.detail.get("selfie_sha256"),
            "document_sha256": self.record.detail.get("document_sha256"),
            "reason": self.record.detail.get("reason"),
        }


class Registrar:
    """Registration decisions over a gallery."""

    def __init__(
        self, gallery: Gallery, config: RegistrationConfig, limits: ImageLimits | None = None
    ) -> None:
        self.gallery = gallery
        self.config = config
        self.limits = limits or gallery.limits
        self.decisions = DecisionLog.of(gallery)

    @property
    def purpose(self) -> str:
        return self.config.purpose

    def point(self) -> OperatingPoint:
        engine = self.gallery.engine
        return registration_point(engine.calibration, engine.pack_id, self.config)

    def check(
        self,
        selfie: bytes,
        document: bytes,
        evidence: LivenessEvidence | None,
        *,
        subject_id: str | None = None,
        attempt_id: str | None = None,
        actor: Actor | None = None,
    ) -> RegistrationOutcome:
        """Is the live person in ``selfie`` the holder of ``document``?"""
        require_notice(self.gallery, self.purpose)
        if evidence is None:
            raise LivenessRequiredError("a registration needs a passed liveness session")
        engine = self.gallery.engine
        embedded = [
            (f.box.area, f.embedding.vector)
            for f in engine.analyze(selfie).faces
            if f.embedding is not None
        ]
        if not embedded:
            raise NoFaceError("no face found in the selfie")
        probe = max(embedded, key=lambda pair: pair[0])[1]
        evidence.check(probe)
        portrait = find_portrait(engine, decode(document, self.limits))
        point = self.point()
        similarity = None
        if portrait is not None and portrait.face.embedding is not None:
            similarity = float(np.dot(probe, portrait.face.embedding.vector))
        accepted = similarity is not None and similarity >= point.threshold
        reason = (
            "no portrait found on the document"
            if portrait is None
            else None
            if accepted
            else "the selfie does not match the portrait"
        )
        detail: dict[str, str | int | float | bool | None] = {
            "selfie_sha256": hashlib.sha256(selfie).hexdigest(),
            "document_sha256": hashlib.sha256(document).hexdigest(),
            "threshold": round(point.threshold, 4),
            "portrait_scale": portrait.scale if portrait else None,
            "images_kept": False,
            "attempt": attempt_id,
            "reason": reason,
        }
        outcome = "accept" if accepted else "reject"
        decision = Decision(
            "registration", self.purpose, outcome, subject_id, point.name,
            evidence.describe(), similarity, detail,
        )  # fmt: skip
        record = self.decisions.record(decision, actor)
        return RegistrationOutcome(outcome, record, point, portrait)
