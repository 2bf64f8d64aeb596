"""A video stream analysed end to end: frames -> faces -> tracks -> identities -> events.

>>> analyzer = StreamAnalyzer(find=lambda px: engine.detect(px).faces, stream_id="door-1")
>>> summary = analyzer.run(open_source("clip.mp4"))

:class:`StreamAnalyzer` detects faces in each frame it is given (every ``detect_every``-th frame;
between detections the tracker's predicted boxes stand in), assigns them to tracks, asks
:class:`~facegate.video.identity.TrackIdentities` (when given) who each confirmed track is, and
emits :class:`~facegate.video.events.Event` values to a sink. It never keeps frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from facegate.types import Face, ImageArray
from facegate.video.events import Event, EventSink, ListSink
from facegate.video.identity import TrackDecision, TrackIdentities
from facegate.video.sources import Frame, FrameBudget, FrameSource
from facegate.video.tracker import IouTracker, TrackedFace, Tracker

FindFaces = Callable[[ImageArray], list[Face]]
OnFrame = Callable[[Frame, "FrameTracks"], None]


@dataclass(frozen=True, slots=True, eq=False)
class FrameTracks:
    """The tracks in one processed frame and what is known of each."""

    index: int
    timestamp: float
    tracks: list[TrackedFace]
    decisions: dict[int, TrackDecision]
    detected: bool


@dataclass(slots=True)
class StreamSummary:
    """What a run did: frames, tracks, decisions, events and speed."""

    frames: int = 0
    dropped: int = 0
    detections: int = 0
    tracks: int = 0
    searches: int = 0
    events: int = 0
    seconds: float = 0.0
    decisions: dict[int, str | None] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "detections": self.detections,
            "tracks": self.tracks,
            "searches": self.searches,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "tracks_identified": sum(1 for s in self.decisions.values() if s is not None),
            "tracks_unknown": sum(1 for s in self.decisions.values() if s is None),
        }


class SceneCuts:
    """Tells a cut between shots: the mean absolute difference of 64x36 grey thumbnails of
    consecutive frames above ``threshold`` (0-255). Tracks never continue across a cut."""

    def __init__(self, threshold: float = 25.0) -> None:
        self.threshold = threshold
        self._previous: npt.NDArray[np.float32] | None = None

    def is_cut(self, pixels: ImageArray) -> bool:
        thumb = cv2.cvtColor(
            cv2.resize(pixels, (64, 36), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
        ).astype(np.float32)
        previous, self._previous = self._previous, thumb
        return previous is not None and float(np.abs(thumb - previous).mean()) > self.threshold


class StreamAnalyzer:
    """Detection, tracking, identity and events for one stream (see the module docstring)."""

    def __init__(
        self,
        find: FindFaces,
        *,
        tracker: Tracker | None = None,
        identities: TrackIdentities | None = None,
        sink: EventSink | None = None,
        stream_id: str = "stream",
        detect_every: int = 1,
        watchlist: bool = False,
        scene_cuts: SceneCuts | None = None,
    ) -> None:
        if detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        self.find = find
        self.tracker = tracker or IouTracker()
        self.identities = identities
        self.sink = sink or ListSink()
        self.stream_id = stream_id
        self.detect_every = detect_every
        self.watchlist = watchlist
        self.scene_cuts = scene_cuts if scene_cuts is not None else SceneCuts()
        self.summary = StreamSummary()
        self._seq = 0
        self._boxes: dict[int, tuple[float, float, float, float]] = {}

    def _emit(self, kind: str, track_id: int, index: int, stamp: float, **extra: object) -> None:
        self._seq += 1
        box = self._boxes.get(track_id)
        event = Event(kind, self.stream_id, self._seq, track_id, index, stamp, box, **extra)  # type: ignore[arg-type]
        self.summary.events += 1
        self.sink.emit(event)

    def process(self, frame: Frame) -> FrameTracks:
        """Detect, track and identify in one frame; emits the events it causes."""
        if self.scene_cuts.is_cut(frame.pixels):
            self.finish(frame.index, frame.timestamp)
        detected = frame.index % self.detect_every == 0
        faces = self.find(frame.pixels) if detected else []
        update = self.tracker.update(faces, frame.timestamp) if detected else self.tracker.hold()
        self.summary.frames += 1
        self.summary.detections += len(faces)
        for tracked in update.tracks:
            b = tracked.box
            self._boxes[tracked.track_id] = (b.x1, b.y1, b.x2, b.y2)
        for track_id in update.started:
            self.summary.tracks += 1
            self._emit("track_started", track_id, frame.index, frame.timestamp)
        decisions: dict[int, TrackDecision] = {}
        for tracked in update.tracks:
            if self.identities is None or not tracked.confirmed:
                continue
            if tracked.face is not None:
                changed = self.identities.observe(tracked.track_id, frame.pixels, tracked.face)
                if changed is not None:
                    self._decided(changed, frame)
            known = self.identities.decision(tracked.track_id)
            if known is not None:
                decisions[tracked.track_id] = known
        for track_id in update.ended:
            self._left(track_id, frame.index, frame.timestamp)
        return FrameTracks(frame.index, frame.timestamp, update.tracks, decisions, detected)

    def _decided(self, decision: TrackDecision, frame: Frame) -> None:
        self.summary.decisions[decision.track_id] = decision.subject_id
        point = decision.operating_point.name
        if decision.subject_id is None:
            self._emit(
                "unknown",
                decision.track_id,
                frame.index,
                frame.timestamp,
                score=decision.score,
                operating_point=point,
            )
            return
        self._emit(
            "identified",
            decision.track_id,
            frame.index,
            frame.timestamp,
            subject_id=decision.subject_id,
            score=decision.score,
            operating_point=point,
        )
        if self.watchlist:
            self._emit(
                "watchlist_hit",
                decision.track_id,
                frame.index,
                frame.timestamp,
                candidate_id=decision.subject_id,
                score=decision.score,
                operating_point=point,
            )

    def _left(self, track_id: int, index: int, stamp: float) -> None:
        self._emit("track_left", track_id, index, stamp)
        self._boxes.pop(track_id, None)
        if self.identities is not None:
            self.identities.forget(track_id)

    def finish(self, index: int, stamp: float) -> None:
        """The source ended: every open track leaves."""
        for track_id in self.tracker.finish():
            self._left(track_id, index, stamp)

    def run(
        self,
        source: FrameSource,
        budget: FrameBudget | None = None,
        *,
        on_frame: OnFrame | None = None,
        stop: threading.Event | None = None,
    ) -> StreamSummary:
        """Process ``source`` until it ends (or ``stop`` is set); closes the source."""
        started = time.perf_counter()
        index, stamp = 0, 0.0
        try:
            for frame in (budget or FrameBudget()).select(source.frames(), source.stats):
                if stop is not None and stop.is_set():
                    break
                result = self.process(frame)
                index, stamp = frame.index, frame.timestamp
                if on_frame is not None:
                    on_frame(frame, result)
        finally:
            source.close()
            self.finish(index, stamp)
            self.summary.seconds = time.perf_counter() - started
            self.summary.dropped = source.stats.dropped
            if self.identities is not None:
                self.summary.searches = self.identities.searches
        return self.summary
