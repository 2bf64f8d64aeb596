"""Best shot and identity per track.

Every detection a track receives, while the track may still be searched, is scored for quality
(the unified 0-100 score of :mod:`facegate.pipeline.quality`, on an aligned chip made by
OpenCV's warp, :func:`~facegate.pipeline.align.quick_face_chip`, without embedding it; a
detection without landmarks first gets them from ``landmarks``, so the detector itself can skip
them). Once a track has been searched, only every ``rescore_every``-th detection (3) is scored
(a clearly better shot is not lost by waiting two frames for it), and tracks that have used
their searches cost nothing more per frame. A track is embedded and searched only when it has
a shot worth searching (the best one seen since its last search):

- the first time its best shot reaches ``min_quality`` (or after ``patience`` detections with
  no such shot, its best one anyway);
- while it holds fewer than ``keep_shots`` embedded shots, again ``fill_every`` detections
  after its last search (so its decision rests on shots from different moments);
- again when a *clearly* better shot arrives (quality at least ``improvement`` points above the
  best one searched so far);

at most ``max_searches`` times per track.

The decision for a track is made on its *track score*, not on a vote of frames: for each
subject, the quality-weighted mean of its similarities to the ``keep_shots`` best shots
embedded so far (by quality). It takes one gallery search: the *track template*, the
quality-weighted mean of those shots' embeddings, is searched as a unit vector, and a
candidate's similarity to it times the template's length (at most 1) is exactly that weighted
mean (:class:`TrackTemplate`). The track is identified as the best subject when its track score
reaches the threshold of the named operating point (the gallery's, e.g. ``fpir=1e-2``),
otherwise it is unknown. A track is *named* only once its template holds ``min_shots`` shots
(or it can be searched no more): until then a score over the threshold leaves it undecided
rather than naming it from one frame. Naming is the costly error of open-set search, so it
needs more evidence than "unknown" does.

Each term of the mean is one shot's similarity, the score the pack's calibration was measured
on, and a mean of scores crosses a threshold only where some of them do, so the calibrated
operating point holds for tracks (on the Hamilton and YouTube Faces tracks against 91 LFW
strangers, fewer pairs reached the calibrated thresholds than with single shots; the unit
template alone scored strangers higher: docs/BENCHMARKS.md, "Identity per track"). A shot that
happens to score the wrong person just above the threshold no longer names the track when its
other shots disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from facegate.pipeline.align import quick_face_chip
from facegate.pipeline.quality import face_quality
from facegate.types import Embedding, Face, ImageArray, OperatingPoint


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
    """Who a track is: a subject id, or None for unknown, with the score that decided.

    ``score`` is the track score of the best candidate; None when there was none to score (the
    search returned no candidate, or no shot of the track could be embedded yet): such a track
    is unknown without a score, not unknown at score 0.
    """

    track_id: int
    subject_id: str | None
    score: float | None
    operating_point: OperatingPoint
    shots: int
    best_quality: float


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """When a track is searched and named (see the module docstring)."""

    min_quality: float = 40.0
    patience: int = 5
    improvement: float = 10.0
    max_searches: int = 5
    keep_shots: int = 3
    min_shots: int = 3
    fill_every: int = 3
    top_k: int = 5
    rescore_every: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.min_shots <= self.keep_shots <= self.max_searches:
            raise ValueError("need 1 <= min_shots <= keep_shots <= max_searches")
        if self.fill_every < 1 or self.rescore_every < 1 or self.patience < 1:
            raise ValueError("fill_every, rescore_every and patience must be at least 1")


@dataclass(slots=True)
class _TrackState:
    seen: int = 0
    best_quality: float = -1.0  # the best shot seen, for reporting
    fresh_quality: float = -1.0  # the best shot since the last search: the next one searched
    fresh_face: Face | None = None
    fresh_pixels: ImageArray | None = None
    searched_quality: float = -1.0
    searched_at: int = 0  # detections seen at the last search
    searches: int = 0
    shots: list[tuple[float, Embedding]] = field(default_factory=list)
    point: OperatingPoint | None = None
    decision: TrackDecision | None = None


def shot_quality(pixels: ImageArray, face: Face) -> float:
    """The unified quality score of a detected face (0 without landmarks)."""
    if face.quality is not None:
        return float(face.quality)
    if face.landmarks is None:
        return 0.0
    return face_quality(quick_face_chip(pixels, face.landmarks), face.landmarks).score


@dataclass(frozen=True, slots=True)
class TrackTemplate:
    """The quality-weighted mean of a track's shot embeddings: its direction as a unit
    ``embedding`` (what is searched) and its ``length`` (at most 1; the embedding's similarity
    to a subject times ``length`` is the weighted mean of the shots' similarities to it)."""

    embedding: Embedding
    length: float

    def score(self, similarity: float) -> float:
        """The track score of a subject whose similarity to the template is ``similarity``."""
        return similarity * self.length


def track_template(shots: Sequence[tuple[float, Embedding]]) -> TrackTemplate:
    """The template of ``(quality, embedding)`` shots of one pack, weighted by quality."""
    if not shots:
        raise ValueError("a track template needs at least one embedded shot")
    packs = {e.pack for _, e in shots}
    if len(packs) != 1:
        raise ValueError("a track template cannot mix embeddings of different packs")
    weights = np.array([max(q, 1e-3) for q, _ in shots], np.float64)
    vectors = np.stack([e.vector for _, e in shots]).astype(np.float64)
    mean = weights @ vectors / weights.sum()
    return TrackTemplate(Embedding.from_raw(mean, packs.pop()), float(np.linalg.norm(mean)))


def decide(
    track_id: int,
    result: SearchResult,
    template: TrackTemplate,
    shots: int,
    best_quality: float,
) -> TrackDecision:
    """The track's decision from the search of its template: the best candidate when its track
    score reaches the operating point's threshold, else unknown (without a score when the
    search returned no candidate)."""
    point = result.operating_point
    best = max(result.candidates, key=lambda m: m.similarity, default=None)
    if best is None:
        return TrackDecision(track_id, None, None, point, shots, best_quality)
    score = template.score(best.similarity)
    known = best.subject_id if score >= point.threshold else None
    return TrackDecision(track_id, known, score, point, shots, best_quality)


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
        state.best_quality = max(state.best_quality, quality)
        if quality > state.fresh_quality:
            state.fresh_quality, state.fresh_face, state.fresh_pixels = quality, face, pixels
        if not self._due(state):
            return None
        previous = state.decision
        decision = self._search(track_id, state)
        if decision.subject_id is not None and not self._may_name(state):
            return None  # over the threshold on too few shots: undecided for now
        state.decision = decision
        changed = previous is None or previous.subject_id != decision.subject_id
        return decision if changed else None

    def _may_name(self, state: _TrackState) -> bool:
        p = self.policy
        return len(state.shots) >= p.min_shots or state.searches >= p.max_searches

    def _due(self, state: _TrackState) -> bool:
        p = self.policy
        if state.fresh_face is None or state.searches >= p.max_searches:
            return False
        if state.searches == 0:
            return state.fresh_quality >= p.min_quality or state.seen >= p.patience
        if len(state.shots) < p.keep_shots and state.seen - state.searched_at >= p.fill_every:
            return True
        return state.fresh_quality >= state.searched_quality + p.improvement

    def _search(self, track_id: int, state: _TrackState) -> TrackDecision:
        shot, pixels, quality = state.fresh_face, state.fresh_pixels, state.fresh_quality
        if shot is None or pixels is None:  # guarded by _due
            raise RuntimeError("no shot to search")
        state.searches += 1
        state.searched_at = state.seen
        state.searched_quality = max(state.searched_quality, quality)
        state.fresh_quality, state.fresh_face, state.fresh_pixels = -1.0, None, None
        embedded = self.embedder.embed_faces(pixels, [shot])[0]  # the frame is not kept
        if embedded.embedding is not None:
            state.shots.append((quality, embedded.embedding))
            state.shots.sort(key=lambda s: -s[0])
            del state.shots[self.policy.keep_shots :]
        if not state.shots:  # nothing could be embedded yet: unknown, no search
            point = state.point or OperatingPoint("none", float("inf"))
            return TrackDecision(track_id, None, None, point, 0, state.best_quality)
        template = track_template(state.shots)
        result = self.searcher.search([Face(shot.box, shot.score, embedding=template.embedding)])[0]
        self.searches += 1
        state.point = result.operating_point
        return decide(track_id, result, template, len(state.shots), state.best_quality)

    def decision(self, track_id: int) -> TrackDecision | None:
        state = self._tracks.get(track_id)
        return state.decision if state is not None else None

    def forget(self, track_id: int) -> TrackDecision | None:
        """Drop a track that ended (its shots go with it); its last decision."""
        state = self._tracks.pop(track_id, None)
        return state.decision if state is not None else None
