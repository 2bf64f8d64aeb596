"""MTCNN face detection (P-Net -> R-Net -> O-Net) on ONNX Runtime, the cascade in numpy/OpenCV.

The weights are facenet-pytorch 2.6.0's (MIT), installed by ``facegate models install mtcnn``
(:mod:`facegate.models.pypi_files`), read by :mod:`facegate.models.torch_format` and converted
by :mod:`facegate.models.mtcnn_onnx` on first use (cached under the source file's SHA-256).
The cascade follows facenet-pytorch's ``detect_face``: an image pyramid (scale factor 0.709,
smallest face ``min_face_size``), P-Net proposals with NMS per scale (IoU 0.5) and over all
scales (0.7), square crops resized to 24x24 for R-Net (NMS 0.7), to 48x48 for O-Net, final NMS
by intersection over the smaller box (0.7). Crops are clipped to the image and resized with
OpenCV's area interpolation (facenet-pytorch: ``interpolate(mode="area")``).

Boxes are ``BBox(x1, y1, x2, y2)`` as facenet-pytorch returns them (pixel edges, the way its
``extract_face`` crops), clipped to the image; scores are O-Net's face probabilities. Keypoints
are the five MTCNN points in the ArcFace order: left eye, right eye, nose, left and right mouth
corner (left/right as seen in the image).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.models import mtcnn_files
from facegate.models.base import Detection, InferenceSession
from facegate.types import BBox, FloatArray, ImageArray, Landmarks

Boxes = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MtcnnConfig:
    """The cascade's settings (facenet-pytorch's defaults, but for ``pad_crops``).

    ``pad_crops``: a box that reaches outside the image is cropped the way the original MTCNN
    does it (Zhang et al.'s code, and the ``align/detect_face.py`` most ports copy): the part
    outside is black and the crop keeps the box's shape, so R-Net and O-Net see the face where
    the box puts it. facenet-pytorch (``False``) stretches the part inside the image to the
    net's input instead, while O-Net's five points are still mapped back over the whole box, so
    on a face cut by the image border (a tight crop) the points come out spread outwards.
    Both give the same result for every box inside the image.

    ``refine_keypoints``: O-Net runs once more on the square crop of each final box (the box
    after O-Net's own regression) and the five keypoints are taken from that pass; the box and
    score stay those of the first. One more O-Net crop per face.
    """

    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709
    pad_crops: bool = True
    refine_keypoints: bool = False


def nms(boxes: Boxes, scores: npt.NDArray[Any], threshold: float, mode: str = "union") -> Boxes:
    """Indices kept by greedy non-maximum suppression, best score first.

    ``union``: IoU with areas ``(x2 - x1) * (y2 - y1)`` (torchvision's ``nms``); ``min``:
    intersection over the smaller box with ``+1`` pixel areas (facenet-pytorch's last stage).
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    pad = 1.0 if mode == "min" else 0.0
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + pad) * (y2 - y1 + pad)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + pad)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + pad)
        inter = iw * ih
        if mode == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def pyramid_scales(height: int, width: int, config: MtcnnConfig) -> list[float]:
    """The pyramid's scales: 12 / min_face_size, times factor, while the short side is >= 12."""
    scale = 12.0 / config.min_face_size
    short = min(height, width) * scale
    scales = []
    while short >= 12:
        scales.append(scale)
        scale *= config.factor
        short *= config.factor
    return scales


def _square(boxes: Boxes) -> Boxes:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: Boxes, reg: npt.NDArray[Any]) -> Boxes:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, :4] = boxes[:, :4] + reg[:, :4] * np.stack([w, h, w, h], axis=1)
    return out


def _crops(
    image: FloatArray, boxes: Boxes, size: int, pad: bool = False
) -> tuple[FloatArray, npt.NDArray[Any]]:
    """Crops of ``boxes``, NCHW at ``size``: clipped to the image as facenet-pytorch's ``pad``
    does, then (``pad``) put back in a black crop of the whole box (the original MTCNN's
    ``pad``), or else stretched as they are (facenet-pytorch); see :class:`MtcnnConfig`, whose
    ``pad_crops`` the detector passes."""
    height, width = image.shape[:2]
    ints = np.trunc(boxes[:, :4]).astype(np.int64)
    x = np.maximum(ints[:, 0], 1)
    y = np.maximum(ints[:, 1], 1)
    ex = np.minimum(ints[:, 2], width)
    ey = np.minimum(ints[:, 3], height)
    valid = (ey > y - 1) & (ex > x - 1)
    out = np.zeros((int(valid.sum()), 3, size, size), dtype=np.float32)
    for row, k in enumerate(np.flatnonzero(valid)):
        patch = image[y[k] - 1 : ey[k], x[k] - 1 : ex[k]]
        clipped = (x[k], y[k], ex[k], ey[k]) != tuple(ints[k])
        if pad and clipped:
            whole = np.zeros((ints[k, 3] - ints[k, 1] + 1, ints[k, 2] - ints[k, 0] + 1, 3),
                             np.float32)  # fmt: skip
            top, left = y[k] - ints[k, 1], x[k] - ints[k, 0]
            whole[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
            patch = whole
        out[row] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
    return out, valid


class MtcnnDetector:
    """MTCNN behind the :class:`~facegate.models.base.Detector` protocol, with 5 keypoints."""

    name = "mtcnn"
    keypoint_layout = "arcface5"
    native_min_face = 20  # MtcnnConfig.min_face_size at upsample 0

    def __init__(
        self,
        home: Path,
        config: MtcnnConfig | None = None,
        sessions: Mapping[str, InferenceSession] | None = None,
        upsample: int = 0,
    ) -> None:
        self.home = Path(home)
        self.config = config or MtcnnConfig()
        self.upsample = upsample  # each step halves the smallest face searched for
        self._sessions: dict[str, InferenceSession] = dict(sessions or {})
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            for net in ("pnet", "rnet", "onet"):
                if net not in self._sessions:
                    self._sessions[net] = mtcnn_files.session(net, self.home)

    def _net(self, net: str, batch: FloatArray) -> list[npt.NDArray[Any]]:
        if len(self._sessions) < 3:
            self.load()
        return [np.asarray(o) for o in self._sessions[net].run(None, {"image": batch})]

    def _proposals(self, image: FloatArray) -> Boxes:
        height, width = image.shape[:2]
        found = []
        config = self.config
        if self.upsample:
            smallest = max(6, round(config.min_face_size / 2**self.upsample))
            config = MtcnnConfig(smallest, config.thresholds, config.factor)
        for scale in pyramid_scales(height, width, config):
            size = (int(width * scale + 1), int(height * scale + 1))
            level = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.float32)
            reg, prob = self._net("pnet", level.transpose(2, 0, 1)[None])
            ys, xs = np.nonzero(prob[0, 1] >= self.config.thresholds[0])
            if ys.size == 0:
                continue
            cells = np.stack([xs, ys], axis=1).astype(np.float64)
            q1 = np.floor((2 * cells + 1) / scale)
            q2 = np.floor((2 * cells + 12) / scale)
            scores = prob[0, 1, ys, xs]
            boxes = np.concatenate([q1, q2, scores[:, None], reg[0][:, ys, xs].T], axis=1)
            found.append(boxes[nms(boxes[:, :4], scores, 0.5)])
        if not found:
            return np.zeros((0, 9))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        moved = boxes[:, :4] + boxes[:, 5:9] * np.stack([w, h, w, h], axis=1)
        return _square(np.concatenate([moved, boxes[:, 4:5]], axis=1))

    def _refine(self, image: FloatArray, boxes: Boxes) -> Boxes:
        crops, valid = _crops(image, boxes, 24, self.config.pad_crops)
        boxes = boxes[valid]
        if len(boxes) == 0:
            return boxes
        reg, prob = self._net("rnet", crops)
        keep = prob[:, 1] > self.config.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return _square(_regress(boxes[pick], reg[keep][pick]))

    def _output(self, image: FloatArray, boxes: Boxes) -> tuple[Boxes, Boxes]:
        crops, valid = _crops(image, boxes, 48, self.config.pad_crops)
        boxes = boxes[valid]
        if len(boxes) == 0:
            return boxes, np.zeros((0, 5, 2))
        reg, points, prob = self._net("onet", crops)
        keep = prob[:, 1] > self.config.thresholds[2]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        points = points[keep]
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        px = w[:, None] * points[:, :5] + boxes[:, 0:1] - 1
        py = h[:, None] * points[:, 5:] + boxes[:, 1:2] - 1
        boxes = _regress(boxes, reg[keep])
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min")
        return boxes[pick], np.stack([px, py], axis=2)[pick]

    def _keypoints_again(self, image: FloatArray, boxes: Boxes, points: Boxes) -> Boxes:
        """O-Net's five points read again from the square crop of each final (regressed) box,
        so the net sees the face centred where its own regression put it."""
        squares = _square(boxes)
        crops, valid = _crops(image, squares, 48, self.config.pad_crops)
        if not valid.any():
            return points
        _, raw, _ = self._net("onet", crops)
        sq = squares[valid]
        w = sq[:, 2] - sq[:, 0] + 1
        h = sq[:, 3] - sq[:, 1] + 1
        px = w[:, None] * raw[:, :5] + sq[:, 0:1] - 1
        py = h[:, None] * raw[:, 5:] + sq[:, 1:2] - 1
        out = points.copy()
        out[valid] = np.stack([px, py], axis=2)
        return out

    def detect_keypoints(self, image: ImageArray) -> list[Detection]:
        """Faces with boxes, O-Net scores and the five MTCNN keypoints."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        height, width = image.shape[:2]
        if min(height, width) < 12:
            return []
        pixels = image.astype(np.float32)
        boxes = self._proposals(pixels)
        if len(boxes):
            boxes = self._refine(pixels, boxes)
        if not len(boxes):
            return []
        boxes, points = self._output(pixels, boxes)
        if self.config.refine_keypoints and len(boxes):
            points = self._keypoints_again(pixels, boxes, points)
        out = []
        for row, pts in zip(boxes, points, strict=True):
            box = BBox(*map(float, row[:4])).clip(width, height)
            if box.width > 0 and box.height > 0:
                out.append(Detection(box, float(row[4]), Landmarks(pts.astype(np.float32))))
        return out

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        return [(d.box, d.score) for d in self.detect_keypoints(image)]
