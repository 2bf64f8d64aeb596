"""Bounded detection work per image: detect on a scaled copy, map the results back.

A 105 KB PNG can hold 6000x6000 pixels; dlib's HOG detector upsampled once works on a 144 MP
pyramid for it (22 s, 3.8 GB). Detection therefore runs on a copy whose longer side is at most
``max_side`` pixels, with as little upsampling as the faces that matter need:

- ``scale = min(1, max_side / longer side)``;
- a detector finds faces down to ``native_min`` pixels (dlib's HOG and CNN: about 80) at
  upsample 0, half that per upsampling step; the plan takes the fewest steps (at most
  ``max_upsample``) that bring a face of ``min_face`` pixels of the *original* image to
  ``native_min`` on the copy.
- where a face of ``min_face`` pixels would be larger than ``native_min`` on the copy, the
  copy is scaled down further until it is ``native_min`` (the detector's own floor, as for
  upsampling), with the longer side kept at 64 pixels or more: a portrait whose faces are
  all large is detected on a small copy (libfacedetection, 20 px native, with a 40 px
  ``min_face``: a 250x250 photo at 125x125, a quarter of the work).

Boxes and keypoints found on the copy are mapped back to the original image; landmarks,
alignment and embeddings are then computed on the full-resolution pixels. The work per image is
bounded by ``max_side**2 * 4**max_upsample`` detector pixels, whatever the input size.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from facegate.config import EngineConfig
from facegate.models.base import Detection, Detector
from facegate.types import BBox, ImageArray, Landmarks

DLIB_NATIVE_MIN_FACE = 80
MIN_COPY_SIDE = 64  # pixels: a copy is never scaled below this for large faces
D = TypeVar("D", bound=Detector)


@dataclass(frozen=True, slots=True)
class DetectionPlan:
    """How to detect on one image: the copy's scale (<= 1) and the upsampling steps."""

    scale: float
    upsample: int


def plan_detection(
    width: int,
    height: int,
    *,
    max_side: int,
    min_face: int,
    max_upsample: int,
    native_min: int = DLIB_NATIVE_MIN_FACE,
) -> DetectionPlan:
    """The scale and upsampling for an image of ``width`` x ``height`` pixels."""
    longer = max(width, height, 1)
    scale = min(1.0, max_side / longer)
    on_copy = max(min_face * scale, 1e-6)
    if on_copy > native_min:  # faces that small are still found on a smaller copy
        scale = max(scale * native_min / on_copy, min(scale, MIN_COPY_SIDE / longer))
        return DetectionPlan(scale, 0)
    steps = math.ceil(math.log2(native_min / on_copy)) if on_copy < native_min else 0
    return DetectionPlan(scale, max(0, min(max_upsample, steps)))


def scaled_copy(pixels: ImageArray, scale: float) -> ImageArray:
    """``pixels`` resized by ``scale`` (area averaging), or ``pixels`` itself at scale 1."""
    if scale >= 1.0:
        return pixels
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def map_back(found: Sequence[Detection], scale: float, width: int, height: int) -> list[Detection]:
    """Detections on a copy scaled by ``scale``, in pixels of the ``width`` x ``height``
    original (boxes clipped to it; keypoints scaled alike)."""
    if scale >= 1.0:
        return list(found)
    back = 1.0 / scale
    out = []
    for det in found:
        b = det.box
        box = BBox(b.x1 * back, b.y1 * back, b.x2 * back, b.y2 * back).clip(width, height)
        points = None
        if det.keypoints is not None:
            points = Landmarks((det.keypoints.points * back).astype(np.float32))
        out.append(Detection(box, det.score, points))
    return out


def plan_for(
    config: EngineConfig, width: int, height: int, detector: object, max_side: int | None = None
) -> DetectionPlan:
    """:func:`plan_detection` with an engine's settings (``max_side`` overriding its
    ``detect_max_side``) and a detector's native face size."""
    native = int(getattr(detector, "native_min_face", DLIB_NATIVE_MIN_FACE))
    min_face = config.detect_min_face or max(1, native // 2**config.upsample)
    return plan_detection(
        width,
        height,
        max_side=max_side or config.detect_max_side,
        min_face=min_face,
        max_upsample=config.upsample,
        native_min=native,
    )


class UpsampleVariants:
    """Detectors with another ``upsample`` setting: shallow copies of one detector that share
    its loaded model (made once per value, thread-safe)."""

    def __init__(self) -> None:
        self._made: dict[tuple[int, int], Any] = {}
        self._lock = threading.Lock()

    def get(self, detector: D, upsample: int) -> D:
        """``detector`` itself when its ``upsample`` is already that (or it has none)."""
        current = getattr(detector, "upsample", None)
        if current is None or current == upsample:
            return detector
        key = (id(detector), upsample)
        with self._lock:
            if key not in self._made:
                detector.load()  # the copy must share the loaded model
                variant = copy.copy(detector)
                vars(variant)["upsample"] = upsample
                self._made[key] = variant
            found: D = self._made[key]
            return found
