"""Watchlists, where the law allows them: real-time search of a stream, with human oversight.

- Only a purpose marked ``watchlist`` may be searched in real time from a live source
  (camera or network stream): :func:`require_realtime_allowed`.
- A track that matches someone on the watchlist gives a ``watchlist_hit`` event, which is a
  *candidate* only: no action may follow until two different people have confirmed it
  (EU AI Act art. 14(5)). :class:`WatchlistHits` keeps the hits of a stream and their
  confirmations; a confirmer is an API key (one per person), and the same key cannot confirm
  twice.
- Each use is logged (art. 12(3)): :func:`use_record` gives the audit event with the period of
  use (an ISO 8601 interval in UTC), the reference gallery (purpose, number of subjects searched,
  embedding pack), the input (the source) and the people (key ids) who confirmed hits:
  ``2026-12-01T12:00:00Z/2026-12-01T12:30:00Z gallery listed:12:dlib-resnet-v1 input cam-3
  hits 4/1 by key_ann,key_bob`` (4 hits, 1 confirmed). Audit decisions hold 128 characters;
  each confirmation also has its own ``watchlist.confirm`` record.
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from facegate.errors import StreamNotFoundError, WatchlistError
from facegate.privacy.audit import AuditEvent
from facegate.store.protocol import Purpose
from facegate.video.events import Event

CONFIRMATIONS_NEEDED = 2


def require_realtime_allowed(purpose: Purpose, live: bool) -> None:
    """Refuse real-time search of a live source for a purpose that is not a watchlist."""
    if live and not purpose.watchlist:
        raise WatchlistError(
            f"purpose {purpose.name!r} is not a watchlist: a live stream cannot be searched in "
            "real time for it (mark the purpose as a watchlist where the law allows)"
        )


@dataclass(slots=True)
class Hit:
    """One watchlist hit and who confirmed it."""

    seq: int
    stream_id: str
    track_id: int
    candidate_id: str
    score: float | None
    confirmers: list[str] = field(default_factory=list)

    @property
    def confirmed(self) -> bool:
        return len(set(self.confirmers)) >= CONFIRMATIONS_NEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "stream_id": self.stream_id,
            "track_id": self.track_id,
            "candidate_id": self.candidate_id,
            "score": round(self.score, 6) if self.score is not None else None,
            "confirmations": len(self.confirmers),
            "confirmed": self.confirmed,
            "status": "confirmed" if self.confirmed else "candidate",
        }


class WatchlistHits:
    """The hits of one stream (an event sink for ``watchlist_hit``) and their confirmations."""

    def __init__(self) -> None:
        self._hits: dict[int, Hit] = {}
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if event.type != "watchlist_hit" or event.candidate_id is None:
            return
        with self._lock:
            self._hits[event.seq] = Hit(
                event.seq, event.stream_id, event.track_id, event.candidate_id, event.score
            )

    def close(self) -> None:
        return None

    def list(self) -> list[Hit]:
        with self._lock:
            return list(self._hits.values())

    def confirm(self, seq: int, confirmer: str) -> Hit:
        """Record that ``confirmer`` (a person's key id) confirms hit ``seq``."""
        with self._lock:
            hit = self._hits.get(seq)
            if hit is None:
                raise StreamNotFoundError(f"no watchlist hit {seq} in this stream")
            if confirmer in hit.confirmers:
                raise WatchlistError(
                    "this person already confirmed the hit: a second, different person must"
                )
            hit.confirmers.append(confirmer)
            return hit

    def confirmers(self) -> builtins.list[str]:
        with self._lock:
            return sorted({c for hit in self._hits.values() for c in hit.confirmers})


def use_record(
    purpose: str,
    gallery_size: int,
    pack: str,
    source: str,
    started: datetime,
    ended: datetime,
    hits: WatchlistHits,
) -> AuditEvent:
    """The audit event for one use of a watchlist on a stream (EU AI Act art. 12(3))."""
    found = hits.list()
    period = f"{started:%Y-%m-%dT%H:%M:%SZ}/{ended:%Y-%m-%dT%H:%M:%SZ}"
    confirmed = sum(h.confirmed for h in found)
    decision = (
        f"{period} gallery {purpose}:{gallery_size}:{pack} input {source[-24:]} "
        f"hits {len(found)}/{confirmed} by {','.join(hits.confirmers()) or '-'}"
    )
    candidates = sorted({h.candidate_id for h in found})
    return AuditEvent("watchlist.use", purpose, candidates, decision)
