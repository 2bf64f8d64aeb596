"""dlib 128-d embeddings of an image set at cached MTCNN boxes, as the engine makes them.

The helper of ``bench/fusion.py``. For every image of a ``bench/arcface_cache.py`` points cache
(MTCNN's box of the chosen face), dlib's 5-point predictor runs inside that box mapped to dlib's
framing (``LANDMARK_BOX_ADAPTERS["mtcnn"]``, as ``FaceEngine`` does with ``--detector mtcnn``),
the 150x150 chip is cut (``face_chip``) and embedded with the dlib pack's ONNX embedder, alone
and mirrored. An image without an MTCNN face uses the median relative box of the others (the
fallback rule of the points cache). Stored as ``<name>-dlib-at-mtcnn-emb.npz`` beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from arcface_cache import Embedded, Points, _median_box, _save
from facegate.config import EngineConfig, ImageLimits
from facegate.imageio import decode
from facegate.models.base import Detection
from facegate.pipeline.box_adapt import LANDMARK_BOX_ADAPTERS
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox

BATCH = 32


def _boxes(pts: Points) -> np.ndarray:
    """Each image's box; the median relative box (times the image size) for a miss."""
    boxes = pts.boxes.copy()
    misses = np.flatnonzero(~pts.detected)
    if len(misses):
        found = np.flatnonzero(pts.detected)[:500]
        sizes = [decode(Path(pts.paths[i])).shape[:2] for i in found]
        rel = _median_box(pts.boxes[found], sizes)
        for i in misses:
            h, w = decode(Path(pts.paths[i])).shape[:2]
            boxes[i] = [rel[0] * w, rel[1] * h, rel[2] * w, rel[3] * h]
    return boxes


def embed_dlib(name: str, pts: Points, home: Path | None, cache_dir: Path) -> Embedded:
    """dlib embeddings (plain and mirrored chip) at each image's MTCNN box (cached)."""
    file = cache_dir / f"{name}-dlib-at-mtcnn-emb.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            if z["paths"].tolist() == pts.paths:
                return Embedded(pts.paths, z["ok"], z["plain"], z["mirror"], z["outside"])
    from facegate.models.onnx_runtime import set_intra_op_threads

    set_intra_op_threads(int(os.environ.get("FACEGATE_BENCH_THREADS", "1")))
    engine = FaceEngine(EngineConfig(pack="dlib", detector="hog"), ImageLimits(), home=home)
    _, landmarker, embedder = engine._backends()
    adapter = LANDMARK_BOX_ADAPTERS["mtcnn"]
    boxes = _boxes(pts)
    n = len(pts.paths)
    plain = np.zeros((n, embedder.dim), np.float32)
    mirror = np.zeros_like(plain)
    ok = np.isfinite(boxes).all(axis=1)
    idx = np.flatnonzero(ok)
    for start in range(0, len(idx), BATCH):
        part = idx[start : start + BATCH]
        chips = []
        for i in part:
            pixels = decode(Path(pts.paths[i]))
            h, w = pixels.shape[:2]
            box = adapter.apply(BBox(*boxes[i].tolist()), w, h)
            face = engine._face_at(pixels, Detection(box, 0.0))
            chips.append(engine._chip(pixels, face, embedder.chip_size))
        stack = np.stack(chips)
        both = embedder.embed(np.concatenate([stack, stack[:, :, ::-1]]))
        plain[part], mirror[part] = both[: len(part)], both[len(part) :]
    outside = np.zeros(n)
    _save(file, paths=np.array(pts.paths), ok=ok, plain=plain, mirror=mirror, outside=outside)
    return Embedded(pts.paths, ok, plain, mirror, outside)
