"""Five-point detections and ArcFace-chip embeddings of an image set, cached on disk.

The helper of ``bench/arcface_variants.py``. Stage 1 finds, for every image, the chosen face
(the largest, or the one nearest the centre) and its five ArcFace points, from one of these
sources:

- ``mtcnn``: MTCNN (upsample 0) and its five keypoints, as the engine runs it (R-Net and
  O-Net crops of boxes that reach outside the image padded with black, as the original MTCNN);
- ``mtcnn-stretch``: the same with facenet-pytorch's crops (the part of the box inside the image
  stretched to the net's input), which is how the engine ran MTCNN before;
- ``mtcnn-imgpad``: ``mtcnn-stretch`` on a copy of the image padded by a quarter of its longer
  side on every side (edge pixels replicated), points mapped back, so no box reaches outside;
- ``mtcnn-refine``: ``mtcnn`` with ``refine_keypoints`` (the five points read again by a second
  O-Net pass on the square crop of the final box); on LFW taken from the ``mtcnn`` cache by
  :func:`refine_points` (the same, on the box clipped to the image);
- ``hog68``: dlib's HOG (upsample 1) and the five points derived from the 68-point landmarks.

A miss falls back, as the evaluation commands do, to the 68-point landmarks inside a fixed box
(the median relative box of the images where a face was found). Stage 2 cuts the 112x112 chip
with a chosen border rule (``constant``: black outside the image, the engine's rule; ``grey``:
128, which the pack's normalisation maps to 0; ``replicate``: edge pixels repeated; ``reflect``:
the image mirrored at its edge) and embeds it and its mirror with the pack's embedder.
Both stages are stored as ``.npz`` files under ``bench/.cache/arcface/`` and reused on a rerun.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.config import DEFAULT_HOME, EngineConfig, ImageLimits
from facegate.imageio import decode
from facegate.pipeline.align import arcface_points_from_68, arcface_transform
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Face

SOURCES = ("mtcnn", "mtcnn-stretch", "mtcnn-imgpad", "mtcnn-refine", "hog68")
BORDERS = {  # name: (OpenCV border mode, value)
    "constant": (cv2.BORDER_CONSTANT, 0),
    "grey": (cv2.BORDER_CONSTANT, 128),
    "replicate": (cv2.BORDER_REPLICATE, 0),
    "reflect": (cv2.BORDER_REFLECT_101, 0),
}
PAD_FRACTION = 0.25
PACK_ENV = "FACEGATE_BENCH_PACK"  # the ArcFace-format pack to embed with (workers inherit it)


def bench_pack() -> str:
    return os.environ.get(PACK_ENV, "mobilefacenet")


CHUNK = 64


@dataclass(frozen=True, slots=True)
class Points:
    """Per image: whether a face was detected, its box and score, and the five points
    (the fallback's where none was detected; NaN where the image could not be read)."""

    paths: list[str]
    detected: np.ndarray  # (n,) bool
    boxes: np.ndarray  # (n, 4)
    scores: np.ndarray  # (n,)
    points: np.ndarray  # (n, 5, 2)


def _engine(source: str, home: Path | None) -> FaceEngine:
    if source == "hog68":
        config = EngineConfig(pack=bench_pack(), detector="hog", upsample=1, landmarks68=True)
        return FaceEngine(config, ImageLimits(), home=home)
    config = EngineConfig(pack=bench_pack(), detector="mtcnn", upsample=0)
    from facegate.models.mtcnn import MtcnnConfig, MtcnnDetector

    if source == "mtcnn":  # the engine's MTCNN with the cascade's defaults
        mtcnn = MtcnnConfig(refine_keypoints=False)
    elif source == "mtcnn-refine":  # keypoints from a second O-Net pass
        mtcnn = MtcnnConfig(refine_keypoints=True)
    else:  # facenet-pytorch's crops: the engine's MTCNN before crops were padded
        mtcnn = MtcnnConfig(pad_crops=False, refine_keypoints=False)
    detector = MtcnnDetector(home or DEFAULT_HOME, mtcnn)
    return FaceEngine(config, ImageLimits(), home=home, detector=detector)


_ENGINES: dict[str, FaceEngine] = {}


def _worker_init(home: Path | None) -> None:
    from facegate.models.onnx_runtime import set_intra_op_threads

    set_intra_op_threads(1)
    os.environ["FACEGATE_BENCH_HOME"] = str(home or "")


def _get_engine(source: str) -> FaceEngine:
    if source not in _ENGINES:
        home = os.environ.get("FACEGATE_BENCH_HOME") or None
        _ENGINES[source] = _engine(source, Path(home) if home else None)
    return _ENGINES[source]


def _choose(faces: Sequence[Face], width: int, height: int, how: str) -> Face | None:
    if not faces:
        return None
    if how == "largest":
        return max(faces, key=lambda f: f.box.area)
    return min(
        faces,
        key=lambda f: (f.box.center[0] - width / 2) ** 2 + (f.box.center[1] - height / 2) ** 2,
    )


def _detect_one(source: str, how: str, path: str) -> tuple[bool, list[float], float, Any]:
    """(detected, box, score, five points or None) for one image."""
    engine = _get_engine(source)
    try:
        pixels = decode(Path(path))
    except Exception:  # noqa: BLE001 - an unreadable image is a row of NaNs
        return False, [np.nan] * 4, np.nan, None
    h, w = pixels.shape[:2]
    if source == "hog68":
        faces = [f for f in engine.detect(pixels, quality=False).faces if f.landmarks68]
        face = _choose(faces, w, h, how)
        if face is None or face.landmarks68 is None:
            return False, [np.nan] * 4, np.nan, None
        pts = arcface_points_from_68(face.landmarks68)
        b = face.box
        return True, [b.x1, b.y1, b.x2, b.y2], face.score, pts
    offset = 0
    if source == "mtcnn-imgpad":
        offset = round(PAD_FRACTION * max(h, w))
        pixels = cv2.copyMakeBorder(pixels, offset, offset, offset, offset, cv2.BORDER_REPLICATE)
    faces = [f for f in engine.locate(pixels) if f.keypoints is not None]
    face = _choose(faces, w + 2 * offset, h + 2 * offset, how)
    if face is None or face.keypoints is None:
        return False, [np.nan] * 4, np.nan, None
    b = face.box
    box = [b.x1 - offset, b.y1 - offset, b.x2 - offset, b.y2 - offset]
    return True, box, face.score, face.keypoints.points - offset


def _fallback_one(home: Path | None, box: tuple[float, ...], path: str) -> Any:
    """Five points from the 68 landmarks inside ``box`` (fractions of the image)."""
    engine = _engine("hog68", home)
    pixels = decode(Path(path))
    h, w = pixels.shape[:2]
    face = Face(BBox(box[0] * w, box[1] * h, box[2] * w, box[3] * h), 0.0)
    with_lm = engine.add_landmarks(pixels, [face])[0]
    return None if with_lm.landmarks68 is None else arcface_points_from_68(with_lm.landmarks68)


def _save(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def detect_points(
    name: str,
    paths: Sequence[Path],
    source: str,
    how: str,
    home: Path | None,
    cache_dir: Path,
    workers: int = 2,
) -> Points:
    """Stage 1 for ``paths`` (cached under ``cache_dir/<name>-<source>-points.npz``)."""
    file = cache_dir / f"{name}-{source}-{how}-points.npz"
    keys = [str(p) for p in paths]
    done: dict[str, tuple[bool, list[float], float, Any]] = {}
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            for i, k in enumerate(z["paths"].tolist()):
                pts = z["points"][i] if z["detected"][i] else None
                done[k] = (
                    bool(z["detected"][i]),
                    z["boxes"][i].tolist(),
                    float(z["scores"][i]),
                    pts,
                )
    todo = [k for k in keys if k not in done]
    if todo:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_worker_init, initargs=(home,)
        ) as pool:
            for start in range(0, len(todo), CHUNK * workers):
                part = todo[start : start + CHUNK * workers]
                run = functools.partial(_detect_one, source, how)
                for k, res in zip(part, pool.map(run, part, chunksize=8), strict=True):
                    done[k] = res
                _store(file, done)
    return _with_fallback(file, done, keys, home)


def _store(file: Path, done: dict[str, tuple[bool, list[float], float, Any]]) -> None:
    keys = list(done)
    points = np.full((len(keys), 5, 2), np.nan, np.float32)
    for i, k in enumerate(keys):
        if done[k][3] is not None:
            points[i] = done[k][3]
    _save(
        file,
        paths=np.array(keys),
        detected=np.array([done[k][0] for k in keys], bool),
        boxes=np.array([done[k][1] for k in keys], np.float64).reshape(-1, 4),
        scores=np.array([done[k][2] for k in keys], np.float64),
        points=points,
    )


def _with_fallback(
    file: Path,
    done: dict[str, tuple[bool, list[float], float, Any]],
    keys: list[str],
    home: Path | None,
) -> Points:
    detected = np.array([done[k][0] for k in keys], bool)
    boxes = np.array([done[k][1] for k in keys], np.float64).reshape(-1, 4)
    points = np.full((len(keys), 5, 2), np.nan, np.float32)
    for i, k in enumerate(keys):
        if done[k][3] is not None:
            points[i] = done[k][3]
    misses = [i for i in range(len(keys)) if not detected[i]]
    if misses:
        fb_file = file.with_name(file.name.replace("-points", "-fallback"))
        fb: dict[str, np.ndarray] = {}
        if fb_file.exists():
            with np.load(fb_file, allow_pickle=False) as z:
                fb = dict(zip(z["paths"].tolist(), z["points"], strict=True))
        sizes = [decode(Path(keys[i])).shape[:2] for i in np.flatnonzero(detected)[:500]]
        rel = _median_box(boxes[detected][: len(sizes)], sizes)
        for i in misses:
            if keys[i] not in fb:
                pts = _fallback_one(home, rel, keys[i])
                fb[keys[i]] = np.full((5, 2), np.nan, np.float32) if pts is None else pts
            points[i] = fb[keys[i]]
        _save(fb_file, paths=np.array(list(fb)), points=np.stack(list(fb.values())))
    scores = np.array([done[k][2] for k in keys], np.float64)
    return Points(keys, detected, boxes, scores, points)


def _median_box(boxes: np.ndarray, sizes: list[tuple[int, int]]) -> tuple[float, ...]:
    hw = np.array(sizes, np.float64)
    scale = np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=1)
    return tuple(float(v) for v in np.median(boxes / scale, axis=0))


# ------------------------------------------------------------------------------ embeddings


def chip(pixels: np.ndarray, points: np.ndarray, border: str) -> tuple[np.ndarray, float]:
    """The 112x112 ArcFace chip with ``border`` outside the image, and the fraction of its
    pixels that lie outside the image."""
    matrix = arcface_transform(points, 112)
    mode, value = BORDERS[border]
    out = cv2.warpAffine(
        pixels,
        matrix,
        (112, 112),
        flags=cv2.INTER_LINEAR,
        borderMode=mode,
        borderValue=(value, value, value),
    )
    inside = cv2.warpAffine(
        np.ones(pixels.shape[:2], np.float32),
        matrix,
        (112, 112),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return np.asarray(out, np.uint8), float(1.0 - inside.mean())


@dataclass(frozen=True, slots=True)
class Embedded:
    """Per image: the chip's embedding, its mirror's, and the chip's fraction outside."""

    paths: list[str]
    ok: np.ndarray  # (n,) bool: points were there
    plain: np.ndarray  # (n, dim)
    mirror: np.ndarray  # (n, dim)
    outside: np.ndarray  # (n,)

    def vectors(self, flip: bool) -> np.ndarray:
        v = self.plain + self.mirror if flip else self.plain
        out: np.ndarray = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return out


def embed_points(
    name: str, pts: Points, border: str, home: Path | None, cache_dir: Path, label: str
) -> Embedded:
    """Stage 2: embed every image's chip and its mirror (cached)."""
    pack = "" if bench_pack() == "mobilefacenet" else f"-{bench_pack()}"
    file = cache_dir / f"{name}-{label}-{border}{pack}-emb.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            if z["paths"].tolist() == pts.paths:
                return Embedded(pts.paths, z["ok"], z["plain"], z["mirror"], z["outside"])
    from facegate.models import factory
    from facegate.models.onnx_runtime import set_intra_op_threads

    set_intra_op_threads(int(os.environ.get("FACEGATE_BENCH_THREADS", "1")))
    engine = _engine("mtcnn", home)
    spec = factory.embedder_spec(engine.pack)
    if spec.alignment != "arcface-112" or spec.flip:
        raise SystemExit(
            f"pack {engine.pack.name!r}: an ArcFace-format pack without flip is needed"
        )
    embedder = factory.build_embedder(engine.pack, engine.registry, factory.BackendOptions())
    n = len(pts.paths)
    ok = np.isfinite(pts.points).all(axis=(1, 2))
    plain = np.zeros((n, embedder.dim), np.float32)
    mirror = np.zeros_like(plain)
    outside = np.full(n, np.nan)
    idx = np.flatnonzero(ok)
    for start in range(0, len(idx), 32):
        part = idx[start : start + 32]
        chips = []
        for i in part:
            c, outside[i] = chip(decode(Path(pts.paths[i])), pts.points[i], border)
            chips.append(c)
        stack = np.stack(chips)
        both = embedder.embed(np.concatenate([stack, stack[:, :, ::-1]]))
        plain[part], mirror[part] = both[: len(part)], both[len(part) :]
    _save(file, paths=np.array(pts.paths), ok=ok, plain=plain, mirror=mirror, outside=outside)
    return Embedded(pts.paths, ok, plain, mirror, outside)


def refine_points(name: str, pts: Points, home: Path | None, cache_dir: Path) -> Points:
    """A second O-Net pass on each detected face's final (regressed) box, squared: O-Net's five
    points read again from a crop centred where its own regression put the face (cached)."""
    file = cache_dir / f"{name}-mtcnn-refine-points.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            if z["paths"].tolist() == pts.paths:
                return Points(pts.paths, pts.detected, pts.boxes, pts.scores, z["points"])
    from facegate.models.mtcnn import MtcnnDetector, _crops, _square

    detector = MtcnnDetector(home or DEFAULT_HOME)
    detector.load()
    points = pts.points.copy()
    for i in np.flatnonzero(pts.detected):
        pixels = decode(Path(pts.paths[i])).astype(np.float32)
        box = _square(np.concatenate([pts.boxes[i], [pts.scores[i]]])[None])
        crops, valid = _crops(pixels, box, 48, pad=True)
        if not valid[0]:
            continue
        _, raw, _ = detector._net("onet", crops)
        w, h = box[0, 2] - box[0, 0] + 1, box[0, 3] - box[0, 1] + 1
        xs, ys = w * raw[0, :5] + box[0, 0] - 1, h * raw[0, 5:] + box[0, 1] - 1
        points[i] = np.stack([xs, ys], axis=1)
    _save(file, paths=np.array(pts.paths), points=points)
    return Points(pts.paths, pts.detected, pts.boxes, pts.scores, points)
