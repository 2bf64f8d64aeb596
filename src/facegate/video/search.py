"""Track identities searched in a :class:`~facegate.store.gallery.Gallery`, within one purpose.

One audit record is written per track decision (operation ``video_identify``, the subject id
when known, the decision and its aggregated score), not per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from facegate.gallery.service import Gallery
from facegate.privacy.audit import AuditEvent
from facegate.types import DetectResult, Face
from facegate.video.identity import Match, SearchResult, TrackDecision


class GallerySearcher:
    """Searches one purpose of a gallery at a named operating point (the gallery's default)."""

    def __init__(self, gallery: Gallery, purpose: str, operating_point: str | None = None) -> None:
        gallery.store.get_purpose(purpose)  # an unknown purpose fails here, not mid-stream
        self.gallery = gallery
        self.purpose = purpose
        self.operating_point = operating_point

    def search(self, faces: Sequence[Face]) -> list[SearchResult]:
        probe = DetectResult(0, 0, list(faces))
        found = self.gallery.identify_faces(probe, self.purpose, self.operating_point)
        return [
            SearchResult(
                [Match(c.subject.id, c.similarity) for c in f.candidates], f.operating_point
            )
            for f in found.faces
        ]

    def record(self, decision: TrackDecision, source: str) -> None:
        """One audit record for a track decision."""
        subjects = (decision.subject_id,) if decision.subject_id is not None else ()
        verdict = "known" if decision.subject_id is not None else "unknown"
        event = AuditEvent(
            "video_identify",
            self.purpose,
            subjects,
            f"track {decision.track_id} of {source}: {verdict} at {decision.operating_point.name}",
            decision.score,
        )
        self.gallery.record(event)
