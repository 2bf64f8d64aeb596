"""dlib's own C++ runtime: HOG and CNN (MMOD) detectors, shape predictors, the ResNet embedder.

This is the reference implementation the converted ONNX networks are checked against. dlib's
network objects keep internal buffers, so each call holds a per-model lock (the HOG detector
keeps a pool of objects instead, one per concurrent caller); dlib releases the GIL while it
computes, so separate engines run in parallel on separate threads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from facegate.models.files import model_path
from facegate.types import BBox, FloatArray, ImageArray, Landmarks

logger = logging.getLogger(__name__)

EMBEDDER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FILE = "mmod_human_face_detector.dat"
SHAPE5_FILE = "shape_predictor_5_face_landmarks.dat"
SHAPE68_FILE = "shape_predictor_68_face_landmarks.dat"


def _dlib() -> Any:
    import dlib

    return dlib


class _Lazy:
    """Cheap constructor, idempotent thread-safe ``load()``."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        raise NotImplementedError

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._build()

    def _get(self) -> Any:
        if self._model is None:
            self.load()
        return self._model


def _box(rect: Any, width: int, height: int) -> BBox:
    # dlib rectangles are inclusive: right/bottom are the last pixel inside the box.
    return BBox(
        float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1)
    ).clip(width, height)


class DlibHogDetector(_Lazy):
    """dlib's HOG + linear SVM frontal face detector (ships inside dlib).

    A dlib ``object_detector`` loads each image into its own scanner, so one object used from
    two threads at once mixes their images up (measured: 17 of 180 Hamilton frames gave other
    boxes). Building one takes about 0.2 s (measured 216 ms quiet), too much for each new
    thread, so the detector keeps a pool: a call takes an idle object (or builds one when every
    object is busy), runs it without a lock and puts it back. The pool holds at most as many
    objects as calls ever ran at once.
    """

    name = "hog"

    def __init__(self, upsample: int = 1) -> None:
        super().__init__()
        self.upsample = upsample
        self._idle: list[Any] = []

    def _build(self) -> Any:
        return _dlib().get_frontal_face_detector()

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._build()
                self._idle.append(self._model)

    def _take(self) -> Any:
        self.load()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._build()

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        detector = self._take()
        try:
            rects, scores, _ = detector.run(image, self.upsample, 0.0)
        finally:
            with self._lock:
                self._idle.append(detector)
        h, w = image.shape[:2]
        return [(_box(r, w, h), float(s)) for r, s in zip(rects, scores, strict=True)]


class DlibCnnDetector(_Lazy):
    """dlib's CNN (MMOD) face detector run by dlib itself."""

    name = "cnn"

    def __init__(self, upsample: int = 1) -> None:
        super().__init__()
        self.upsample = upsample

    def _build(self) -> Any:
        return _dlib().cnn_face_detection_model_v1(str(model_path(CNN_FILE)))

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        model = self._get()
        with self._lock:
            found = model(image, self.upsample)
        h, w = image.shape[:2]
        return [(_box(d.rect, w, h), float(d.confidence)) for d in found]


class DlibShapePredictor(_Lazy):
    """dlib's regression-tree landmarker (5 or 68 points)."""

    def __init__(self, num_points: int = 5) -> None:
        super().__init__()
        if num_points not in (5, 68):
            raise ValueError("dlib shape predictors have 5 or 68 points")
        self.num_points = num_points

    def _build(self) -> Any:
        name = SHAPE5_FILE if self.num_points == 5 else SHAPE68_FILE
        return _dlib().shape_predictor(str(model_path(name)))

    def landmarks(self, image: ImageArray, box: BBox) -> Landmarks:
        dlib = _dlib()
        rect = dlib.rectangle(round(box.x1), round(box.y1), round(box.x2) - 1, round(box.y2) - 1)
        shape = self._get()(image, rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return Landmarks(pts)


class DlibEmbedder(_Lazy):
    """dlib's 128-d ResNet face embedder run by dlib itself, on aligned 150x150 chips."""

    chip_size = 150
    dim = 128

    def _build(self) -> Any:
        return _dlib().face_recognition_model_v1(str(model_path(EMBEDDER_FILE)))

    def embed(self, chips: ImageArray) -> FloatArray:
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get()
        batch = [np.ascontiguousarray(c) for c in chips]
        with self._lock:
            raw = model.compute_face_descriptor(batch)
        vecs = np.asarray([np.asarray(v) for v in raw], dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        out: FloatArray = (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
        return out
