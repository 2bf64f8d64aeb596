"""Best shot and identity per track.

Every detection a track receives, while the track may still be searched, is scored for quality
(the unified 0-100 score of :mod:`facegate.pipeline.quality`, on an aligned chip made by
OpenCV's warp, :func:`~facegate.pipeline.align.quick_face_chip`, without embedding it; a
detection without landmarks first gets them from ``landmarks``, so the detector itself can skip
them). Once a track has been searched, only every ``rescore_every``-th detection (3) is scored
(a clearly better shot is not lost by waiting two frames for it), and tracks that have used
their searches cost nothing more per frame. A track
is embedded and searched only when it has a shot worth searching:

- the first time its best shot reaches ``min_quality`` (or after ``patience`` detections with
  no such shot, its best one anyway), and
- again when a *clearly* better shot arrives (quality at least ``improvement`` points above the
  best one searched so far), at most ``max_searches`` times per track.

The decision for a track is made on *aggregated* scores, not on a vote of frames: the
``keep_shots`` best shots searched so far are each compared with the gallery, and a subject's
track score is the mean of its similarities over those shots (a shot on which the subject is
not among the top candidates counts as 0). The track is identified as the best subject when that
mean reaches the threshold of the named operating point (the gallery's, e.g. ``fpir=1e-2``),
otherwise it is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from facegate.pipeline.align import quick_face_chip
from facegate.pipeline.quality import face_quality
from facegate.types import Face, ImageArray, OperatingPoint


@dataclass(frozen=True, slots=True)
class Match:
    """A subject and its similarity to one probe face."""

    subject_id: str
    similarity: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The top candidates for one probe face and the operating point that decides."""

    candidates: list[Match]
    operating_point: OperatingPoint


class Searcher(Protocol):
    """Searches embedded faces in a gallery (one result per face, in order)."""

    def search(self, faces: Sequence[Face]) -> list[SearchResult]: ...


class FaceEmbedder(Protocol):
    """Embeds faces found in a frame (``FaceEngine.embed_faces`` fits)."""

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]: ...


AddLandmarks = Callable[[ImageArray, Sequence[Face]], list[Face]]


@dataclass(frozen=True, slots=True)
class TrackDecision:
    """Who a track is: a subject id, or None for unknown, with the score that decided."""

    track_id: int
    subject_id: str | None
    score: float
    operating_point: OperatingPoint
    shots: int
    best_quality: float


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """When a track is searched (see the module docstring)."""

    min_quality: float = 40.0
    patience: int = 5
    improvement: float = 10.0
    max_searches: int = 4
    keep_shots: int = 3
    top_k: int = 5
    rescore_every: int = 3


@dataclass(slots=True)
class _TrackState:
    seen: int = 0
    best_quality: float = -1.0
    best_face: Face | None = None
    best_pixels: ImageArray | None = None
    searched_quality: float = -1.0
    searches: int = 0
    shots: list[tuple[float, SearchResult]] = field(default_factory=list)
    decision: TrackDecision | None = None


def shot_quality(pixels: ImageArray, face: Face) -> float:
    """The unified quality score of a detected face (0 without landmarks)."""
    if face.quality is not None:
        return float(face.quality)
    if face.landmarks is None:
        return 0.0
    return face_quality(quick_face_chip(pixels, face.landmarks), face.landmarks).score


def aggregate(
    track_id: int, shots: Sequence[tuple[float, SearchResult]], best_quality: float
) -> TrackDecision:
    """The track's decision from the search results of its best shots."""
    point = shots[-1][1].operating_point
    totals: dict[str, float] = {}
    for _, result in shots:
        for match in result.candidates:
            totals[match.subject_id] = totals.get(match.subject_id, 0.0) + match.similarity
    if not totals:
        return TrackDecision(track_id, None, 0.0, point, len(shots), best_quality)
    subject, total = max(totals.items(), key=lambda kv: kv[1])
    score = total / len(shots)
    known = subject if score >= point.threshold else None
    return TrackDecision(track_id, known, score, point, len(shots), best_quality)


class TrackIdentities:
    """Keeps each track's best shot and decides who it is (see the module docstring)."""

    def __init__(
        self,
        embedder: FaceEmbedder,
        searcher: Searcher,
        policy: IdentityPolicy | None = None,
        *,
        landmarks: AddLandmarks | None = None,
    ) -> None:
        self.embedder = embedder
        self.searcher = searcher
        self.policy = policy or IdentityPolicy()
        self.landmarks = landmarks
        self._tracks: dict[int, _TrackState] = {}
        self.searches = 0

    def observe(self, track_id: int, pixels: ImageArray, face: Face) -> TrackDecision | None:
        """Take one detection of a track; a new decision when it changed, else None."""
        state = self._tracks.setdefault(track_id, _TrackState())
        state.seen += 1
        if state.searches >= self.policy.max_searches:
            return None  # decided for good: no more work for this track
        if state.searches and state.seen % self.policy.rescore_every:
            return None  # searched already: look for a better shot on every n-th detection
        if face.landmarks is None and self.landmarks is not None:
            face = self.landmarks(pixels, [face])[0]
        quality = shot_quality(pixels, face)
        if quality > state.best_quality:
            state.best_quality, state.best_face, state.best_pixels = quality, face, pixels
        if not self._due(state):
            return None
        previous = state.decision
        state.decision = self._search(track_id, state)
        changed = previous is None or previous.subject_id != state.decision.subject_id
        return state.decision if changed else None

    def _due(self, state: _TrackState) -> bool:
        p = self.policy
        if state.best_face is None or state.searches >= p.max_searches:
            return False
        if state.searches == 0:
            return state.best_quality >= p.min_quality or state.seen >= p.patience
        return state.best_quality >= state.searched_quality + p.improvement

    def _search(self, track_id: int, state: _TrackState) -> TrackDecision:
        shot = state.best_face
        pixels = state.best_pixels
        state.searches += 1
        state.searched_quality = state.best_quality
        if shot is None or pixels is None:  # guarded by _due
            raise RuntimeError("no shot to search")
        embedded = self.embedder.embed_faces(pixels, [shot])[0]
        state.best_pixels = None  # the frame is not kept once its shot is embedded
        if embedded.embedding is None:
            result = SearchResult([], self._point(state))
        else:
            result = self.searcher.search([embedded])[0]
            self.searches += 1
        state.shots.append((state.best_quality, result))
        state.shots.sort(key=lambda s: -s[0])
        del state.shots[self.policy.keep_shots :]
        return aggregate(track_id, state.shots, state.best_quality)

    def _point(self, state: _TrackState) -> OperatingPoint:
        if state.shots:
            return state.shots[0][1].operating_point
        return OperatingPoint("none", float("inf"))

    def decision(self, track_id: int) -> TrackDecision | None:
        state = self._tracks.get(track_id)
        return state.decision if state is not None else None

    def forget(self, track_id: int) -> TrackDecision | None:
        """Drop a track that ended (its shots go with it); its last decision."""
        state = self._tracks.pop(track_id, None)
        return state.decision if state is not None else None
