"""Finding the portrait on a photographed identity document.

The portrait printed on an ID card is small: on a card photographed whole by a phone or a
kiosk camera it is often 40-80 pixels high, below what a detector finds at its default scale.
:func:`find_portrait` looks at the image as it is first, then enlarged (2x, then 4x, up to
:data:`MAX_UPSCALED_PIXELS`), which is what dlib's ``upsample`` does inside the detector and
what the small-face detectors (MTCNN, libfacedetection: docs/DETECTORS.md) do better; the
engine's own detector runs on the enlarged image. The portrait is the largest face found: the
card's "ghost" image (a second, faint copy of the portrait some cards print) is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facegate.gallery.analyzer import FaceAnalyzer
from facegate.types import BBox, Face, ImageArray, Landmarks

UPSCALES = (1, 2, 4)
MAX_UPSCALED_PIXELS = 12_000_000


@dataclass(frozen=True, slots=True)
class Portrait:
    """The portrait found: the face (box in pixels of the original image) and the scale at
    which it was found (1 = as given)."""

    face: Face
    scale: int
    faces_found: int


def _scaled(face: Face, scale: int) -> Face:
    if scale == 1:
        return face
    b = face.box
    box = BBox(b.x1 / scale, b.y1 / scale, b.x2 / scale, b.y2 / scale)
    points = (
        None
        if face.landmarks is None
        else Landmarks((face.landmarks.points / scale).astype(np.float32))
    )
    return Face(
        box=box, score=face.score, landmarks=points, quality=face.quality, embedding=face.embedding
    )


def find_portrait(engine: FaceAnalyzer, pixels: ImageArray) -> Portrait | None:
    """The largest embedded face on the document image ``pixels`` (RGB), enlarging the image
    until one is found; ``None`` when there is none even at the largest scale."""
    h, w = pixels.shape[:2]
    for scale in UPSCALES:
        if scale > 1 and h * w * scale * scale > MAX_UPSCALED_PIXELS:
            break
        image = pixels if scale == 1 else _enlarge(pixels, scale)
        faces = [f for f in engine.analyze(image).faces if f.embedding is not None]
        if faces:
            best = max(faces, key=lambda f: f.box.area)
            return Portrait(_scaled(best, scale), scale, len(faces))
    return None


def _enlarge(pixels: ImageArray, scale: int) -> ImageArray:
    h, w = pixels.shape[:2]
    out = cv2.resize(pixels, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(out)
