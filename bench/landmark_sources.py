"""Second sources of the five ArcFace points for a cached MTCNN face, to average with MTCNN's.

The helper of ``bench/landmark_ensemble.py``. For every image where the points cache of
``bench/arcface_cache.py`` has an MTCNN face, the same face (the detection whose box overlaps
the cached box most, IoU >= 0.3) is found again by another source:

- ``mtcnn-mirror``: MTCNN (as the engine runs it) on the left-right mirror of the image; its
  points mapped back (``x -> w - 1 - x``) and relabelled (left eye <-> right eye, left mouth
  corner <-> right), so that mirror noise averages out with the direct pass;
- ``lfd``: libfacedetection's own five keypoints (``facedetect_cnn``, ArcFace order; whole pixels
  of the image the library saw).

NaN where the source finds no matching face. Stored as ``<name>-<source>-points.npz``.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from arcface_cache import CHUNK, Points, _save, _worker_init
from facegate.imageio import decode
from facegate.pipeline.box_adapt import iou_matrix

SOURCES = ("mtcnn-mirror", "lfd")
MIRROR_ORDER = [1, 0, 2, 4, 3]
_DETECTORS: dict[str, Any] = {}


def _detector(source: str) -> Any:
    if source not in _DETECTORS:
        home = Path(os.environ.get("FACEGATE_BENCH_HOME") or "") or None
        if source == "lfd":
            from facegate.models.libfacedetection import LibfacedetectionDetector

            _DETECTORS[source] = LibfacedetectionDetector(threads=1)
        else:
            from facegate.config import DEFAULT_HOME
            from facegate.models.mtcnn import MtcnnConfig, MtcnnDetector

            _DETECTORS[source] = MtcnnDetector(home or DEFAULT_HOME, MtcnnConfig())
    return _DETECTORS[source]


def _one(source: str, job: tuple[str, list[float]]) -> Any:
    """The matched face's five points (5, 2) in the image's pixels, or None."""
    path, box = job
    pixels = decode(Path(path))
    width = pixels.shape[1]
    if source == "lfd":
        rows, points = _detector(source).detect_rows(pixels)
        if points is None or not len(rows):
            return None
        boxes = rows[:, :4]
    else:
        found = _detector(source).detect_keypoints(np.ascontiguousarray(pixels[:, ::-1]))
        found = [d for d in found if d.keypoints is not None]
        if not found:
            return None
        boxes = np.array([[width - d.box.x2, d.box.y1, width - d.box.x1, d.box.y2] for d in found])
        points = np.stack([d.keypoints.points for d in found]).astype(np.float64)
        points[:, :, 0] = width - 1 - points[:, :, 0]
        points = points[:, MIRROR_ORDER]
    iou = iou_matrix([box], boxes)[0]
    best = int(np.argmax(iou))
    return points[best] if iou[best] >= 0.3 else None


def other_points(
    name: str, pts: Points, source: str, home: Path | None, cache_dir: Path, workers: int = 2
) -> np.ndarray:
    """``(n, 5, 2)`` points of ``source`` for each image of ``pts`` (NaN: none), cached."""
    file = cache_dir / f"{name}-{source}-points.npz"
    done: dict[str, np.ndarray] = {}
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            done = dict(zip(z["paths"].tolist(), z["points"], strict=True))
    todo = [
        (p, pts.boxes[i].tolist())
        for i, p in enumerate(pts.paths)
        if pts.detected[i] and p not in done
    ]
    if todo:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_worker_init, initargs=(home,)
        ) as pool:
            for start in range(0, len(todo), CHUNK * workers):
                part = todo[start : start + CHUNK * workers]
                run = functools.partial(_one, source)
                for (p, _), res in zip(part, pool.map(run, part, chunksize=8), strict=True):
                    done[p] = np.full((5, 2), np.nan) if res is None else np.asarray(res)
                _save(file, paths=np.array(list(done)), points=np.stack(list(done.values())))
    nan = np.full((5, 2), np.nan)
    return np.stack([done.get(p, nan) for p in pts.paths]).astype(np.float32)


def averaged(pts: Points, other: np.ndarray, weight: float = 0.5) -> Points:
    """``pts`` with each detected face's points averaged with ``other``'s (``weight`` on
    ``other``); faces ``other`` did not find keep their own points."""
    have = np.isfinite(other).all(axis=(1, 2)) & pts.detected
    points = pts.points.copy()
    points[have] = (1 - weight) * pts.points[have] + weight * other[have]
    return Points(pts.paths, pts.detected, pts.boxes, pts.scores, points)
