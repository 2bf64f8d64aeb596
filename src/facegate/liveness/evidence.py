"""Liveness evidence for a biometric operation: a passed session, bound to the probe's face.

A purpose whose policy requires liveness (:func:`facegate.privacy.purposes.liveness_required`)
accepts verify, identify and enrol only with :class:`LivenessEvidence`: the verdict of a
liveness session that passed, its method and operating point, the passive PAD decision where a
PAD model is configured, and the embedding of the session's face. The probe image's face must
be that face (cosine at least ``min_similarity``), so a person cannot pass liveness and then
present someone else's photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegate.errors import LivenessRequiredError
from facegate.liveness.pad import PadDecision
from facegate.types import FloatArray

METHOD = "active-challenge-v1"


@dataclass(frozen=True, slots=True, eq=False)
class LivenessEvidence:
    """A liveness decision to attach to a biometric operation."""

    session_id: str
    passed: bool
    method: str
    operating_point: str
    detail: str
    embedding: FloatArray | None
    min_similarity: float = 0.9
    pad: PadDecision | None = None

    def describe(self) -> str:
        """The liveness part of an audit decision (no images, no embeddings), short enough to
        fit beside the operation's own decision; the session's own audit record (operation
        ``liveness``) holds the details and the PAD's score and threshold."""
        verdict = "passed" if self.passed else "failed"
        text = f"liveness {verdict}: session {self.session_id}, {self.method}"
        text += f" at {self.operating_point}"
        if self.pad is not None:
            text += f", pad {'bona fide' if self.pad.live else 'attack'}"
        return text

    def check(self, probe: FloatArray | None) -> None:
        """Raise :class:`LivenessRequiredError` unless the session passed and ``probe`` (the
        embedding of the face the operation uses) is the session's face."""
        if not self.passed:
            raise LivenessRequiredError(f"liveness session {self.session_id} did not pass")
        if probe is None or self.embedding is None:
            raise LivenessRequiredError("the probe face cannot be matched to the liveness session")
        similarity = float(np.dot(self.embedding, probe))
        if similarity < self.min_similarity:
            raise LivenessRequiredError(
                f"the probe face is not the face of liveness session {self.session_id}"
            )


def require(required: bool, evidence: LivenessEvidence | None, purpose: str) -> None:
    """Refuse an operation for ``purpose`` that needs liveness and has no evidence."""
    if required and evidence is None:
        raise LivenessRequiredError(
            f"purpose {purpose!r} requires a passed liveness session (liveness_session_id)"
        )
