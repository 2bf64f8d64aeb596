"""dlib's networks, converted to ONNX, run on ONNX Runtime.

:func:`create_session` is the one place sessions are made: all graph optimisations, one
intra-op thread per CPU, CUDA when ``onnxruntime-gpu`` and a GPU are there, else CPU; the
provider in use is logged once. :class:`OnnxEmbedder` and :class:`OnnxMmodDetector` implement
the :class:`~facegate.models.base.Embedder` and :class:`~facegate.models.base.Detector`
protocols; both take an injectable session, so tests can run them on a fake.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ModelConversionError
from facegate.models import mmod
from facegate.models.base import InferenceSession
from facegate.models.convert import CNN_FILE, EMBEDDER_FILE, convert, source_path
from facegate.models.dlib_format import read_network
from facegate.models.dlib_onnx import min_input_size, output_to_input_map
from facegate.types import BBox, FloatArray, ImageArray

logger = logging.getLogger(__name__)

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_logged: set[tuple[str, ...]] = set()
_log_lock = threading.Lock()
_intra_op_threads: int | None = None  # None: one per CPU


def set_intra_op_threads(threads: int | None) -> None:
    """Intra-op threads of every session made from now on in this process (None: one per CPU).

    Processes that each run their own sessions side by side (evaluation workers) should share
    the cores out: two processes of two spinning threads each on two cores run MobileFaceNet
    several times slower than two of one thread, and far worse when the machine is busy.
    """
    global _intra_op_threads
    _intra_op_threads = None if threads is None else max(1, threads)


def _log_providers_once(providers: Sequence[str]) -> None:
    key = tuple(providers)
    with _log_lock:
        if key in _logged:
            return
        _logged.add(key)
    logger.info("ONNX Runtime providers in use: %s", ", ".join(key))


def create_session(
    model: Path | bytes,
    providers: Sequence[str] | None = None,
    memory_arena: bool = True,
    threads: int | None = None,
    spinning: bool = True,
) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model`` (a path or serialized bytes).

    ``memory_arena=False`` returns activation memory after each run: right for a model whose
    input size varies (the CNN detector on photos of any size), where an arena would keep the
    largest run's memory for good. ``threads`` sets the intra-op threads (default: the
    process's setting, else one per CPU); small models on small batches run best on one.
    ``spinning=False`` lets idle intra-op threads sleep instead of busy-waiting for the next
    piece of work: for a model run one small input at a time on a shared machine, where a
    spinning thread takes a core another thread needs (docs/BENCHMARKS.md, "Where the time
    goes").
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or _intra_op_threads or os.cpu_count() or 1
    options.enable_cpu_mem_arena = memory_arena
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if providers is None:
        available = ort.get_available_providers()
        providers = [_CUDA, _CPU] if _CUDA in available else [_CPU]
    source = str(model) if isinstance(model, Path) else model
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelConversionError(f"ONNX Runtime could not load the model: {exc}") from exc
    _log_providers_once(session.get_providers())
    return session


def session_for(
    name: str,
    cache_dir: Path,
    memory_arena: bool = True,
    spinning: bool = True,
    threads: int | None = None,
) -> Any:
    """A session on the converted dlib network ``name``; a damaged cached file is replaced."""
    onnx_path = convert(source_path(name), cache_dir)
    try:
        return create_session(
            onnx_path, memory_arena=memory_arena, threads=threads, spinning=spinning
        )
    except ModelConversionError:
        logger.warning("cached model %s could not be loaded; converting it again", onnx_path)
        onnx_path.unlink(missing_ok=True)
        fresh = convert(source_path(name), cache_dir)
        return create_session(fresh, memory_arena=memory_arena, threads=threads, spinning=spinning)


class OnnxEmbedder:
    """dlib's 128-d ResNet embedder on ONNX Runtime; rows come back L2-normalised.

    One face at a time (``analyze`` on a portrait) runs on a session of one intra-op thread,
    batches on one with the process's threads (one per CPU): for a single 150x150 chip one
    thread costs the least CPU a face, quiet or loaded, and on busy cores a second one costs
    more in waking up per layer than it saves; only a single stream on an idle machine runs
    faster on two (docs/BENCHMARKS.md, "Cutting the photo path"). An injected ``session``
    serves both.
    """

    chip_size = 150
    dim = 128

    def __init__(
        self,
        cache_dir: Path,
        session: InferenceSession | None = None,
        batch_size: int = 32,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.batch_size = max(1, batch_size)
        self._session = session
        self._single = session
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is None:
                # threads that sleep between runs: measured faster than spinning ones on 2
                # shared cores
                self._session = session_for(EMBEDDER_FILE, self.cache_dir, spinning=False)
            if self._single is None:
                self._single = session_for(EMBEDDER_FILE, self.cache_dir, threads=1)

    def _get(self) -> InferenceSession:
        if self._session is None:
            self.load()
        if self._session is None:  # pragma: no cover - load() always sets it
            raise ModelConversionError("embedder session failed to load")
        return self._session

    def embed_raw(self, chips: ImageArray) -> FloatArray:
        """dlib's unnormalised descriptors for ``(N, 150, 150, 3)`` uint8 RGB chips."""
        chips = np.ascontiguousarray(chips, dtype=np.uint8)
        if chips.ndim != 4 or chips.shape[1:] != (self.chip_size, self.chip_size, 3):
            raise ValueError(f"chips must be (N, {self.chip_size}, {self.chip_size}, 3) uint8")
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._get()
        if len(chips) == 1 and self._single is not None:
            session = self._single
        parts = [
            np.asarray(session.run(["embedding"], {"chips": chips[i : i + self.batch_size]})[0])
            for i in range(0, len(chips), self.batch_size)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def embed(self, chips: ImageArray) -> FloatArray:
        raw = self.embed_raw(chips)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        out: FloatArray = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return out


class OnnxMmodDetector:
    """dlib's CNN (MMOD) face detector: the network on ONNX Runtime, the rest in numpy.

    Boxes follow dlib's Python API exactly (``cnn_face_detection_model_v1(img, upsample)``,
    threshold 0 by default), converted to ``BBox(left, top, right + 1, bottom + 1)`` and
    clipped to the image; scores are dlib's raw detection confidences.
    """

    name = "cnn"

    def __init__(
        self,
        cache_dir: Path,
        upsample: int = 1,
        threshold: float = 0.0,
        session: InferenceSession | None = None,
        config: mmod.MmodConfig | None = None,
    ) -> None:
        if upsample < 0:
            raise ValueError("upsample must be >= 0")
        self.cache_dir = Path(cache_dir)
        self.upsample = upsample
        self.threshold = threshold
        self._session = session
        self._config = config
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._config is None:
                self._config = mmod_config(source_path(CNN_FILE))
            if self._session is None:
                self._session = session_for(CNN_FILE, self.cache_dir, memory_arena=False)

    def _get(self) -> tuple[InferenceSession, mmod.MmodConfig]:
        if self._session is None or self._config is None:
            self.load()
        if self._session is None or self._config is None:  # pragma: no cover
            raise ModelConversionError("detector failed to load")
        return self._session, self._config

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        session, config = self._get()
        height, width = image.shape[:2]
        if image.size == 0:
            return []
        work = image
        for _ in range(self.upsample):
            work = mmod.pyramid_up(work)
        pyramid, rects = mmod.build_pyramid(work, config)
        if not rects or min(pyramid.shape[2:]) < config.min_canvas:
            return []
        scores = np.asarray(session.run(["scores"], {"pyramid": pyramid})[0])[0]
        boxes, conf = mmod.detections(scores, rects, config, self.threshold)
        boxes = mmod.rect_down(boxes, self.upsample)
        return [
            (BBox(float(x1), float(y1), float(x2 + 1), float(y2 + 1)).clip(width, height), float(s))
            for (x1, y1, x2, y2), s in zip(boxes.tolist(), conf.tolist(), strict=True)
        ]


def mmod_config(path: Path) -> mmod.MmodConfig:
    """The detector settings stored in dlib's MMOD file (input layer and loss options)."""
    net = read_network(path)
    inp, loss = net.input.params, net.loss.params
    if loss.get("use_bounding_box_regression"):
        raise ModelConversionError("MMOD bounding-box regression is not supported")
    return mmod.MmodConfig(
        means=(inp["avg_red"], inp["avg_green"], inp["avg_blue"]),
        pyramid_padding=int(inp["pyramid_padding"]),
        pyramid_outer_padding=int(inp["pyramid_outer_padding"]),
        windows=tuple((int(w), int(h)) for w, h, _ in loss["detector_windows"]),
        nms_iou=float(loss["overlaps_nms"][0]),
        nms_covered=float(loss["overlaps_nms"][1]),
        cell_to_pixel=output_to_input_map(net),
        min_canvas=min_input_size(net),
    )
