"""Run the engine over many images, on several processes, through the cache.

Each worker process builds its own engine once (engines hold model state and are not shared);
the parent reads the image bytes, looks them up in the cache by SHA-256, sends the misses to the
workers and writes what comes back. Progress goes to a callback, never to a terminal here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from facegate.config import EngineConfig
from facegate.errors import FacegateError
from facegate.eval.cache import EmbeddingCache, FaceRecord, sha256_of
from facegate.imageio import ImageSource, decode
from facegate.types import BBox, DetectResult, Face, FloatArray, ImageArray

# Part of every cache key: bump it when what a record holds changes (2: quality scores).
RECORD_VERSION = 2

logger = logging.getLogger(__name__)


def engine_variant(config: EngineConfig) -> str:
    """How an engine set-up makes its records, for the cache key: every engine setting that can
    change a record (the pack is keyed apart, by its pack id; the default operating point
    changes no record). Two set-ups that differ in any of them never share cached records."""
    parts = [
        f"{config.detector}-up{config.upsample}-{config.runtime}-j{config.jitters}",
        f"chip-{config.chip}",
        f"side{config.detect_max_side}",
    ]
    if config.detect_min_face is not None:
        parts.append(f"mf{config.detect_min_face}")
    if config.detector_threshold is not None:
        parts.append(f"t{config.detector_threshold:g}")
    if config.landmarks68:
        parts.append("lm68")
    return "-".join(parts)


ProgressFn = Callable[[str, int, int], None]
RelBox = tuple[float, float, float, float]


class EvalEngine(Protocol):
    """The part of :class:`facegate.pipeline.engine.FaceEngine` that evaluation uses."""

    @property
    def pack_id(self) -> str: ...

    def detect(self, image: ImageSource) -> DetectResult: ...

    def analyze(self, image: ImageSource) -> DetectResult: ...

    def embed_at(self, image: ImageSource, box: BBox, score: float = 0.0) -> Face: ...


@dataclass(frozen=True, slots=True)
class Task:
    """What to do with each image: ``detect``, ``analyze`` (detect + embed every face), or
    ``embed_at`` a fixed box given as fractions of the image's width and height."""

    kind: Literal["detect", "analyze", "embed_at"]
    box: RelBox | None = None

    @property
    def key(self) -> str:
        if self.box is None:
            return self.kind
        return self.kind + ":" + ",".join(f"{v:.4f}" for v in self.box)


def _record(pixels: ImageArray, faces: Sequence[Face], with_embeddings: bool) -> FaceRecord:
    h, w = pixels.shape[:2]
    boxes = np.array([[f.box.x1, f.box.y1, f.box.x2, f.box.y2] for f in faces], np.float32)
    scores = np.array([f.score for f in faces], np.float32)
    quality = np.array([np.nan if f.quality is None else f.quality for f in faces], np.float32)
    if with_embeddings and faces and all(f.embedding is not None for f in faces):
        emb = np.stack([f.embedding.vector for f in faces if f.embedding is not None])
    else:
        emb = np.zeros((len(faces), 0), np.float32)
    return FaceRecord(w, h, boxes.reshape(-1, 4), scores, emb.astype(np.float32), quality)


def run_task(engine: EvalEngine, task: Task, data: bytes) -> FaceRecord:
    """Apply ``task`` to one encoded image; unreadable images give a failed record."""
    try:
        pixels = decode(data)
        if task.kind == "detect":
            return _record(pixels, engine.detect(pixels).faces, False)
        if task.kind == "analyze":
            return _record(pixels, engine.analyze(pixels).faces, True)
        if task.box is None:
            raise ValueError("embed_at needs a box")
        h, w = pixels.shape[:2]
        x1, y1, x2, y2 = task.box
        face = engine.embed_at(pixels, BBox(x1 * w, y1 * h, x2 * w, y2 * h))
        return _record(pixels, [face], True)
    except (FacegateError, RuntimeError) as exc:  # dlib raises RuntimeError on odd input
        return FaceRecord.failed(f"{type(exc).__name__}: {exc}")


_WORKER_ENGINE: list[EvalEngine] = []  # the one engine of a worker process


def _worker_init(factory: Callable[[], EvalEngine], threads: int | None = None) -> None:
    if threads is not None:  # the workers share the cores out between them
        from facegate.models.onnx_runtime import set_intra_op_threads

        set_intra_op_threads(threads)
    _WORKER_ENGINE.append(factory())


def _worker_run(task: Task, data: bytes) -> bytes:
    return run_task(_WORKER_ENGINE[0], task, data).to_bytes()


@dataclass(slots=True)
class ExtractStats:
    """How a run went: images served from the cache, computed, and the wall time."""

    cached: int = 0
    computed: int = 0
    seconds: float = 0.0
    workers: int = 1
    by_task: dict[str, float] = field(default_factory=dict)


class Extractor:
    """Apply tasks to images with ``workers`` processes, each with an engine from ``factory``.

    ``variant`` describes the engine set-up (detector, upsampling, runtime) and joins the task
    in the cache key; ``pack_id`` is the engine's pack.
    """

    def __init__(
        self,
        factory: Callable[[], EvalEngine],
        *,
        pack_id: str,
        variant: str,
        cache: EmbeddingCache | None = None,
        workers: int = 2,
        progress: ProgressFn | None = None,
    ) -> None:
        self.factory = factory
        self.pack_id = pack_id
        self.variant = variant
        self.cache = cache
        self.workers = max(1, workers)
        self.progress = progress
        self.stats = ExtractStats(workers=self.workers)
        self._local: EvalEngine | None = None

    def run(
        self, paths: Sequence[Path], task: Task, label: str = "images"
    ) -> dict[Path, FaceRecord]:
        """One record per path (in any order of completion; the dict is keyed by path)."""
        start = time.perf_counter()
        variant = f"{task.key}|{self.variant}|r{RECORD_VERSION}"
        out: dict[Path, FaceRecord] = {}
        todo: list[tuple[Path, str, bytes]] = []
        for path in dict.fromkeys(paths):
            try:
                data = path.read_bytes()
            except OSError as exc:
                out[path] = FaceRecord.failed(f"unreadable: {exc.strerror or exc}")
                continue
            sha = sha256_of(data)
            hit = self.cache.get(self.pack_id, variant, sha) if self.cache is not None else None
            if hit is not None:
                out[path] = hit
            else:
                todo.append((path, sha, data))
        self.stats.cached += len(out)
        total = len(out) + len(todo)
        self._report(label, len(out), total)
        for n, (path, sha, record) in enumerate(self._compute(task, todo), start=1):
            out[path] = record
            if self.cache is not None and not record.error.startswith("unreadable"):
                self.cache.put(self.pack_id, variant, sha, record)
                if n % 200 == 0:
                    self.cache.commit()
            self._report(label, total - len(todo) + n, total)
        if self.cache is not None:
            self.cache.commit()
        self.stats.computed += len(todo)
        elapsed = time.perf_counter() - start
        self.stats.seconds += elapsed
        self.stats.by_task[task.key] = self.stats.by_task.get(task.key, 0.0) + elapsed
        return out

    def _report(self, label: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(label, done, total)

    def _compute(
        self, task: Task, todo: list[tuple[Path, str, bytes]]
    ) -> Iterator[tuple[Path, str, FaceRecord]]:
        if not todo:
            return
        if self.workers == 1 or len(todo) < 2 * self.workers:
            if self._local is None:
                self._local = self.factory()
            for path, sha, data in todo:
                yield path, sha, run_task(self._local, task, data)
            return
        ctx = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        with ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(self.factory, threads),
        ) as pool:
            futures = {
                pool.submit(_worker_run, task, data): (path, sha) for path, sha, data in todo
            }
            for future in as_completed(futures):
                path, sha = futures[future]
                yield path, sha, FaceRecord.from_bytes(future.result())


# ---------------------------------------------------------------- choosing the face of an image

FaceChoice = Literal["centre", "largest"]
# Where dlib's HOG detector (upsample 1) puts the face in LFW's 250x250 deep-funneled images, as
# fractions of the image: the median box over the 7,661 of 7,701 images where it finds one. Used
# only when a run has too few detections to measure its own median.
LFW_CENTRE_BOX: RelBox = (0.268, 0.320, 0.704, 0.752)


def choose_face(record: FaceRecord, how: FaceChoice) -> int | None:
    """Index of the face nearest the image centre, or of the largest face; None if none."""
    if record.count == 0:
        return None
    b = record.boxes.astype(np.float64)
    if how == "largest":
        return int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
    cx, cy = (b[:, 0] + b[:, 2]) / 2 - record.width / 2, (b[:, 1] + b[:, 3]) / 2 - record.height / 2
    return int(np.argmin(cx * cx + cy * cy))


def median_relative_box(records: Sequence[FaceRecord], how: FaceChoice) -> RelBox:
    """The median chosen box over ``records`` as fractions of width and height."""
    rows = []
    for rec in records:
        k = choose_face(rec, how)
        if k is not None and rec.width > 0 and rec.height > 0:
            scale = np.array([rec.width, rec.height, rec.width, rec.height], np.float64)
            rows.append(rec.boxes[k].astype(np.float64) / scale)
    if len(rows) < 10:
        return LFW_CENTRE_BOX
    med = np.median(np.asarray(rows), axis=0)
    return (float(med[0]), float(med[1]), float(med[2]), float(med[3]))


@dataclass(frozen=True, slots=True, eq=False)
class EmbeddedImages:
    """One embedding per image (None when unreadable), with how each was obtained."""

    detected: dict[Path, FloatArray | None]
    embeddings: dict[Path, FloatArray | None]  # detected, else the fallback
    misses: list[Path]  # readable images where the detector found no face
    failures: list[Path]  # unreadable images
    fallback_box: RelBox


def _chosen_embedding(rec: FaceRecord | None, how: FaceChoice) -> FloatArray | None:
    if rec is None or rec.error or rec.embeddings.shape[1] == 0:
        return None
    k = choose_face(rec, how)
    return None if k is None else rec.embeddings[k]


def embed_images(
    images: Sequence[Path], extractor: Extractor, how: FaceChoice = "centre"
) -> EmbeddedImages:
    """Detect and embed every image (through the cache); a miss is embedded at a fixed box,
    the median of the boxes chosen in the images where a face was found."""
    unique = list(dict.fromkeys(images))
    records = extractor.run(unique, Task("analyze"), "detect + embed")
    detected = {p: _chosen_embedding(records[p], how) for p in unique}
    failures = [p for p in unique if records[p].error]
    misses = [p for p in unique if detected[p] is None and not records[p].error]
    box = median_relative_box(list(records.values()), how)
    fallback = extractor.run(misses, Task("embed_at", box), "fallback") if misses else {}
    embeddings = {
        p: detected[p] if detected[p] is not None else _chosen_embedding(fallback.get(p), how)
        for p in unique
    }
    return EmbeddedImages(detected, embeddings, misses, failures, box)
