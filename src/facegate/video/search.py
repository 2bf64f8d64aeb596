"""Track identities searched in a :class:`~facegate.store.gallery.Gallery`, within one purpose.

:class:`AuditingSink` writes one audit record per track decision (operation
``video_identify``, the subject id when known, the decision and its aggregated score), not one
per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from facegate.gallery.service import Gallery
from facegate.privacy.audit import AuditEvent
from facegate.types import DetectResult, Face
from facegate.video.events import Event
from facegate.video.identity import Match, SearchResult


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


class AuditingSink:
    """An event sink that appends one audit record per track decision (identified/unknown)."""

    def __init__(self, gallery: Gallery, purpose: str, source: str) -> None:
        self.gallery = gallery
        self.purpose = purpose
        self.source = source

    def emit(self, event: Event) -> None:
        if event.type not in ("identified", "unknown", "watchlist_hit"):
            return
        subject = event.subject_id or event.candidate_id
        verdict = {"identified": "known", "unknown": "unknown"}.get(event.type, "candidate")
        decision = (
            f"stream {event.stream_id} ({self.source}) track {event.track_id}: {verdict}"
            f" at {event.operating_point}"
        )
        operation = "watchlist_hit" if event.type == "watchlist_hit" else "video_identify"
        subjects = (subject,) if subject is not None else ()
        self.gallery.record(AuditEvent(operation, self.purpose, subjects, decision, event.score))

    def close(self) -> None:
        return None
