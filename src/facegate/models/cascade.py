"""A second opinion on each candidate face: MTCNN's R-Net and O-Net scoring its crop.

libfacedetection proposes faces (its boxes frame a face much as MTCNN's do: both include the
forehead, docs/DETECTORS.md); :class:`OnetScorer` cuts the square around each proposal, as
MTCNN cuts its own boxes, and runs R-Net (24x24) and O-Net (48x48) on the crops in one batch
each. The two networks were trained to tell faces from non-faces on exactly such crops, so their
probabilities are a cheap, independent score for each box (about 0.3 ms a crop).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.models import mtcnn_files
from facegate.models.base import Detection, InferenceSession
from facegate.models.libfacedetection import DEFAULT_MAX_SIDE, LibfacedetectionDetector
from facegate.models.mtcnn import _crops, _square, nms
from facegate.types import BBox, ImageArray, Landmarks

Rows = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class CropScores:
    """Per box: R-Net and O-Net face probabilities (0 where the crop is empty), O-Net's box
    regression ``(n, 4)`` (fractions of the square's side) and five points ``(n, 5, 2)`` in
    image pixels (NaN where the crop is empty)."""

    rnet: Rows
    onet: Rows
    regression: Rows
    points: Rows


class OnetScorer:
    """R-Net and O-Net on the square crop of each box (MTCNN's pinned weights)."""

    def __init__(self, home: Path, sessions: Mapping[str, InferenceSession] | None = None) -> None:
        self.home = Path(home)
        self._sessions: dict[str, InferenceSession] = dict(sessions or {})
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            for net in ("rnet", "onet"):
                if net not in self._sessions:
                    # one thread: a few 48x48 crops per image; two threads spin-wait each
                    # other (25 against 49 ms of CPU per LFW photo for the cascade, load 9)
                    self._sessions[net] = mtcnn_files.session(net, self.home, threads=1)

    def _net(self, net: str, batch: npt.NDArray[np.float32]) -> list[npt.NDArray[Any]]:
        if len(self._sessions) < 2:
            self.load()
        return [np.asarray(o) for o in self._sessions[net].run(None, {"image": batch})]

    def score(self, image: ImageArray, boxes: Rows, rnet: bool = True) -> CropScores:
        """Scores for ``(n, 4)`` boxes ``x1, y1, x2, y2`` in pixels of the RGB ``image``
        (R-Net's left at 0 unless ``rnet``)."""
        n = len(boxes)
        out = CropScores(np.zeros(n), np.zeros(n), np.zeros((n, 4)), np.full((n, 5, 2), np.nan))
        if n == 0:
            return out
        pixels = image.astype(np.float32)
        squares = _square(np.asarray(boxes, dtype=np.float64)[:, :4])
        # crops cut by the image border are stretched (facenet-pytorch's way), not padded: the
        # cascade's constants and every figure in docs/BENCHMARKS.md were measured so
        large, valid = _crops(pixels, squares, 48, pad=False)
        if not valid.any():
            return out
        if rnet:
            small = _crops(pixels, squares, 24, pad=False)[0]
            out.rnet[valid] = self._net("rnet", small)[1][:, 1]
        reg, points, prob = self._net("onet", large)
        out.onet[valid] = prob[:, 1]
        out.regression[valid] = reg
        sq = squares[valid]
        side = (sq[:, 2] - sq[:, 0] + 1)[:, None]
        px = side * points[:, :5] + sq[:, 0:1] - 1
        py = side * points[:, 5:] + sq[:, 1:2] - 1
        out.points[valid] = np.stack([px, py], axis=2)
        return out


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """How proposals become faces. The defaults are the rule chosen on FDDB folds 1-2 by
    ``bench/fddb_cascade.py --search`` (best rate at 0.1 false positives per image there, under
    FDDB's raw rule, box/ellipse overlap >= 0.5); docs/DETECTORS.md gives its rates.

    libfacedetection runs on the image and, with ``mirror``, on its mirror image too (boxes
    mapped back); proposals narrower than ``min_width`` pixels are dropped. Each is scored
    ``((1 - onet_weight) * libfacedetection + onet_weight * O-Net + rnet_weight * R-Net)
    / (1 + rnet_weight) * O-Net ** onet_power``; a proposal overlapping a better-scored one by
    more than ``nms`` (IoU) is dropped (the two passes find most faces twice); faces scored
    below ``threshold`` are dropped; ``framing`` maps each kept box to the framing of FDDB's
    head ellipses (None keeps libfacedetection's box).
    """

    onet_weight: float = 0.2
    rnet_weight: float = 0.0
    onet_power: float = 0.1
    nms: float = 0.3
    threshold: float = 0.5883  # 0.1 false positives per image on FDDB folds 1-2
    min_width: float = 12.0
    mirror: bool = True
    framing: tuple[float, float, float, float] | None = (0.0008, -0.0811, 1.0895, 1.2276)
    enlarged_passes: int = 0  # also on copies 2x, 4x, ... larger (for faces under 20 px)
    enlarged_max_side: int = 1280  # an enlarged copy is at most this long


def _unmirror(rows: Rows, points: Rows | None, width: int) -> tuple[Rows, Rows | None]:
    """Boxes and keypoints found on the mirror image, in the image's own pixels (the two eyes
    and the two mouth corners swap places, so the keypoints keep the ArcFace order)."""
    rows = rows.copy()
    rows[:, [0, 2]] = width - rows[:, [2, 0]]
    if points is None:
        return rows, None
    points = points[:, [1, 0, 2, 4, 3]].copy()
    points[:, :, 0] = width - points[:, :, 0]
    return rows, points


def reframe(boxes: Rows, affine: tuple[float, float, float, float]) -> Rows:
    """Boxes with their centre moved by ``(dx, dy)`` box widths/heights and sides scaled by
    ``(sx, sy)`` (as :class:`facegate.pipeline.box_adapt.BoxAffine` does)."""
    dx, dy, sx, sy = affine
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + dx * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + dy * h
    return np.stack([cx - sx * w / 2, cy - sy * h / 2, cx + sx * w / 2, cy + sy * h / 2], axis=1)


class CascadeDetector:
    """libfacedetection proposes (on the image, its mirror image and, where configured, on
    enlarged copies), R-Net and O-Net re-score each proposal's crop, the fused score ranks
    them. Keypoints are libfacedetection's own five (ArcFace order). It has no ``upsample``:
    the passes are fixed by its :class:`CascadeConfig`, so the engine's upsampling does not
    change it (only its ``detect_max_side`` copy)."""

    name = "libfacedetection-onet"
    keypoint_layout = "arcface5"
    native_min_face = 20  # libfacedetection's, on the image itself

    def __init__(
        self,
        home: Path,
        config: CascadeConfig | None = None,
        threads: int | None = 1,
        threshold: float | None = None,
        scorer: OnetScorer | None = None,
        finder: LibfacedetectionDetector | None = None,
    ) -> None:
        self.config = config or CascadeConfig()
        if threshold is not None:
            self.config = dataclasses.replace(self.config, threshold=threshold)
        self.threads = threads
        self.scorer = scorer or OnetScorer(home)
        self._finder = finder or LibfacedetectionDetector(0.0, threads=threads)

    def load(self) -> None:
        self._finder.load()
        self.scorer.load()

    def _passes(self, height: int, width: int) -> list[LibfacedetectionDetector]:
        """One finder per pass: the image (libfacedetection caps it at 960 px a side), then
        copies 2, 4, ... times larger, each capped at ``enlarged_max_side`` and run only
        while it is at least 1.5x the previous pass (so images longer than about 850 px get
        one pass)."""
        out = [self._finder]
        longer = max(height, width)
        first = min(1.0, DEFAULT_MAX_SIDE / longer)
        for step in range(1, self.config.enlarged_passes + 1):
            scale = min(2.0**step, self.config.enlarged_max_side / longer)
            if scale < first * 1.5 * 2 ** (step - 1):
                break
            finder = copy.copy(self._finder)
            finder.upsample, finder.max_side = step, self.config.enlarged_max_side
            out.append(finder)
        return out

    def proposals(self, image: ImageArray) -> tuple[Rows, Rows]:
        """Every pass's boxes as rows ``x1, y1, x2, y2, libfacedetection score`` and their
        ``(n, 5, 2)`` keypoints (NaN where the library gave none)."""
        rows, points = [], []
        for finder in self._passes(*image.shape[:2]):
            found, pts = finder.detect_rows(image)
            rows.append(found)
            points.append(np.full((len(found), 5, 2), np.nan) if pts is None else pts)
        if self.config.mirror:
            found, pts = self._finder.detect_rows(image[:, ::-1])
            found, pts = _unmirror(found, pts, image.shape[1])
            rows.append(found)
            points.append(np.full((len(found), 5, 2), np.nan) if pts is None else pts)
        out, marks = np.concatenate(rows), np.concatenate(points)
        wide = out[:, 2] - out[:, 0] >= self.config.min_width
        return out[wide], marks[wide]

    def fused(self, rows: Rows, scores: CropScores) -> Rows:
        c = self.config
        total = (1 - c.onet_weight) * rows[:, 4] + c.onet_weight * scores.onet
        total = (total + c.rnet_weight * scores.rnet) / (1 + c.rnet_weight)
        if c.onet_power:
            total = total * np.maximum(scores.onet, 1e-6) ** c.onet_power
        return np.asarray(total)

    def detect_keypoints(self, image: ImageArray) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("detect expects an RGB uint8 image of shape (H, W, 3)")
        rows, points = self.proposals(image)
        if not len(rows):
            return []
        crops = self.scorer.score(image, rows[:, :4], rnet=self.config.rnet_weight > 0)
        score = self.fused(rows, crops)
        keep = (
            nms(rows[:, :4], score, self.config.nms)
            if self.config.nms < 1
            else np.argsort(-score, kind="stable")
        )
        keep = keep[score[keep] >= self.config.threshold]
        boxes = rows[keep, :4]
        if self.config.framing is not None:
            boxes = reframe(boxes, self.config.framing)
        height, width = image.shape[:2]
        out = []
        for box_row, s, pts in zip(boxes, score[keep], points[keep], strict=True):
            box = BBox(*map(float, box_row)).clip(width, height)
            if box.width > 0 and box.height > 0:
                marks = None if np.isnan(pts).any() else Landmarks(pts.astype(np.float32))
                out.append(Detection(box, float(s), marks))
        return out

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]:
        return [(d.box, d.score) for d in self.detect_keypoints(image)]
