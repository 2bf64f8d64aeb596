"""Multi-object tracking of faces over detections.

A :class:`Tracker` takes the faces detected in each frame (in frame order, with the frame's
timestamp) and answers which track each belongs to. :class:`IouTracker` is facegate's tracker:

- each track predicts its box in the next frame from a smoothed constant-velocity model;
- detections are matched to predictions by overlap (IoU of the predicted box, at least
  ``min_iou``), best pairs first; a detection left over starts a new track;
- a track is *confirmed* once it has ``min_hits`` detections (so a single false positive does
  not become a track), and *ends* once no detection has matched it for ``max_missed`` frames
  or ``max_age_s`` seconds of stream time (so a source that skips frames, or a live source that
  dropped some, does not carry a track across a long gap);
- a track that misses a frame keeps its predicted box, marked ``predicted``, so a caller that
  must cover a face covers it through short detector misses; it is *shown* (in
  :attr:`TrackUpdate.tracks`) for at most ``max_held`` missed detections, though it stays
  matchable for ``max_missed``: a false detection that became a track does not linger on screen
  for half a second (on the YouTube Faces clips, 5 instead of 15 halved the tracker's false
  boxes per frame at the same recall: docs/BENCHMARKS.md).

Boxes are pixels ``(x1, y1, x2, y2)`` of the frame, as everywhere in facegate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from facegate.types import BBox, Face


@dataclass(frozen=True, slots=True, eq=False)
class TrackedFace:
    """Where one track is in one frame; ``face`` is None when the box is a prediction."""

    track_id: int
    box: BBox
    face: Face | None
    hits: int
    confirmed: bool

    @property
    def predicted(self) -> bool:
        return self.face is None


@dataclass(frozen=True, slots=True, eq=False)
class TrackUpdate:
    """The tracker's answer for one frame."""

    tracks: list[TrackedFace]
    started: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)


class Tracker(Protocol):
    """Assigns the faces of each frame to tracks."""

    def update(self, faces: Sequence[Face], timestamp: float) -> TrackUpdate: ...

    def hold(self) -> TrackUpdate:
        """The open tracks where they are, for a frame without detection (nothing changes)."""
        ...

    def finish(self) -> list[int]:
        """End every open confirmed track (the source ended); their ids."""
        ...


@dataclass(slots=True)
class _Track:
    track_id: int
    box: BBox
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    last_seen: float = 0.0
    hits: int = 1
    missed: int = 0
    confirmed: bool = False

    def predict(self) -> BBox:
        v = self.velocity
        return BBox(self.box.x1 + v[0], self.box.y1 + v[1], self.box.x2 + v[2], self.box.y2 + v[3])

    def correct(self, box: BBox, smoothing: float, timestamp: float) -> None:
        steps = self.missed + 1
        raw = (
            (box.x1 - self.box.x1) / steps,
            (box.y1 - self.box.y1) / steps,
            (box.x2 - self.box.x2) / steps,
            (box.y2 - self.box.y2) / steps,
        )
        a = smoothing
        self.velocity = (
            a * self.velocity[0] + (1 - a) * raw[0],
            a * self.velocity[1] + (1 - a) * raw[1],
            a * self.velocity[2] + (1 - a) * raw[2],
            a * self.velocity[3] + (1 - a) * raw[3],
        )
        self.box = box
        self.last_seen = timestamp
        self.hits += 1
        self.missed = 0


def match_by_iou(
    predicted: Sequence[BBox], detected: Sequence[BBox], min_iou: float
) -> list[tuple[int, int]]:
    """Pairs ``(track index, detection index)``, highest overlap first, each used once."""
    pairs = [(p.iou(d), ti, di) for ti, p in enumerate(predicted) for di, d in enumerate(detected)]
    pairs = [x for x in pairs if x[0] >= min_iou]
    pairs.sort(key=lambda x: -x[0])
    used_t: set[int] = set()
    used_d: set[int] = set()
    out: list[tuple[int, int]] = []
    for _, ti, di in pairs:
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        out.append((ti, di))
    return out


class IouTracker:
    """Overlap tracking with constant-velocity prediction (see the module docstring)."""

    def __init__(
        self,
        *,
        min_iou: float = 0.2,
        min_hits: int = 2,
        max_missed: int = 15,
        max_age_s: float = 0.5,
        smoothing: float = 0.6,
        max_held: int = 5,
    ) -> None:
        self.min_iou = min_iou
        self.min_hits = min_hits
        self.max_missed = max_missed
        self.max_held = max_held
        self.max_age_s = max_age_s
        self.smoothing = smoothing
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, faces: Sequence[Face], timestamp: float) -> TrackUpdate:
        ended: list[int] = []
        alive: list[_Track] = []
        for track in self._tracks:
            if timestamp - track.last_seen > self.max_age_s:
                if track.confirmed:
                    ended.append(track.track_id)
            else:
                alive.append(track)
        self._tracks = alive
        predicted = [t.predict() for t in self._tracks]
        pairs = match_by_iou(predicted, [f.box for f in faces], self.min_iou)
        matched = {ti: di for ti, di in pairs}
        out: list[TrackedFace] = []
        started: list[int] = []
        keep: list[_Track] = []
        for ti, track in enumerate(self._tracks):
            di = matched.get(ti)
            face: Face | None = None
            if di is None:
                track.missed += 1
                track.box = predicted[ti]
                if track.missed > self.max_missed:
                    if track.confirmed:
                        ended.append(track.track_id)
                    continue
                if not track.confirmed:  # a tentative track that misses is dropped
                    continue
                if track.missed > self.max_held:  # still matchable, no longer shown
                    keep.append(track)
                    continue
            else:
                face = faces[di]
                track.correct(face.box, self.smoothing, timestamp)
                if not track.confirmed and track.hits >= self.min_hits:
                    track.confirmed = True
                    started.append(track.track_id)
            keep.append(track)
            out.append(TrackedFace(track.track_id, track.box, face, track.hits, track.confirmed))
        taken = set(matched.values())
        for di, face in enumerate(faces):
            if di in taken:
                continue
            track = _Track(
                self._next_id, face.box, last_seen=timestamp, confirmed=self.min_hits <= 1
            )
            self._next_id += 1
            if track.confirmed:
                started.append(track.track_id)
            keep.append(track)
            out.append(TrackedFace(track.track_id, track.box, face, 1, track.confirmed))
        self._tracks = keep
        return TrackUpdate(out, started, ended)

    def hold(self) -> TrackUpdate:
        return TrackUpdate(
            [
                TrackedFace(t.track_id, t.box, None, t.hits, t.confirmed)
                for t in self._tracks
                if t.confirmed and t.missed <= self.max_held
            ]
        )

    def finish(self) -> list[int]:
        ended = [t.track_id for t in self._tracks if t.confirmed]
        self._tracks = []
        return ended
