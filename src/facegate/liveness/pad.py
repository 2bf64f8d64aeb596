"""Passive presentation-attack detection (PAD) on single frames: the protocol and the ONNX slot.

A :class:`PresentationAttackDetector` scores one face in one image: higher is more likely a
live (bona fide) face. Its ``method`` and ``threshold`` name the decision for the audit
record. facegate ships no PAD model: a pack can bring an ONNX model described by its manifest
(role ``pad``: input size, layout, colour order, normalisation, which output is "live"), or an
operator can train the texture baseline (:mod:`facegate.liveness.texture`) on their own data.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from facegate.models.base import InferenceSession
from facegate.models.specs import PadSpec
from facegate.types import BBox, FloatArray, ImageArray


@runtime_checkable
class PresentationAttackDetector(Protocol):
    """Scores a face for liveness; ``score >= threshold`` is a bona fide decision."""

    method: str
    threshold: float

    def score(self, image: ImageArray, box: BBox) -> float: ...


@dataclass(frozen=True, slots=True)
class PadDecision:
    """One PAD decision as the audit record keeps it."""

    method: str
    score: float
    threshold: float
    live: bool

    def describe(self) -> str:
        verdict = "bona fide" if self.live else "attack"
        return (
            f"pad {self.method}: {verdict} (score {self.score:.3f}, threshold {self.threshold:.3f})"
        )

    def brief(self) -> str:
        """The decision in few characters (for an audit record's decision field)."""
        verdict, sign = ("bona fide", ">=") if self.live else ("attack", "<")
        return f"pad {self.method} {verdict} {self.score:.3f}{sign}{self.threshold:.3f}"


def decide(detector: PresentationAttackDetector, image: ImageArray, box: BBox) -> PadDecision:
    """Score the face at ``box`` and decide at the detector's threshold."""
    value = float(detector.score(image, box))
    return PadDecision(detector.method, value, detector.threshold, value >= detector.threshold)


def landmark_box(points: FloatArray) -> BBox:
    """The box of a face's landmarks (the region a detector box covers, brows to chin)."""
    x1, y1 = (float(v) for v in points.min(axis=0))
    x2, y2 = (float(v) for v in points.max(axis=0))
    return BBox(x1, y1, max(x2, x1 + 1.0), max(y2, y1 + 1.0))


def session_decision(
    detector: PresentationAttackDetector, scores: Sequence[float]
) -> PadDecision | None:
    """The PAD decision over a session's frames: their median score at the detector's
    threshold (one odd frame, blurred by motion, does not decide); ``None`` without frames."""
    if not scores:
        return None
    value = float(np.median(np.asarray(scores, np.float64)))
    return PadDecision(detector.method, value, detector.threshold, value >= detector.threshold)


def square_crop(image: ImageArray, box: BBox, scale: float, size: int) -> ImageArray:
    """The square around ``box`` (its longer side times ``scale``), padded with edge pixels
    where it leaves the image, resized to ``size`` x ``size``."""
    cx, cy = box.center
    half = max(box.width, box.height) * scale / 2.0
    x1, y1 = int(round(cx - half)), int(round(cy - half))
    side = max(int(round(2 * half)), 1)
    h, w = image.shape[:2]
    pad = max(0, -x1, -y1, x1 + side - w, y1 + side - h)
    src = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    crop = src[y1 + pad : y1 + pad + side, x1 + pad : x1 + pad + side]
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


class OnnxPad:
    """A pack's ONNX PAD model, run on the face crop its manifest describes.

    The crop is the face box's square, ``crop_scale`` times its side, resized to the spec's
    input size, in its colour order and layout, normalised by its mean and std. A network with
    one output column is read as a live probability; with several, a softmax is taken and
    column ``live_index`` is the live score.
    """

    def __init__(
        self,
        spec: PadSpec,
        path: Path | None,
        *,
        threshold: float = 0.5,
        crop_scale: float = 1.5,
        session: InferenceSession | None = None,
        name: str = "onnx",
    ) -> None:
        self.spec = spec
        self.path = path
        self.threshold = threshold
        self.crop_scale = crop_scale
        self.method = f"onnx-pad:{name}/{spec.file}"
        self._session = session
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                if self.path is None:
                    raise FileNotFoundError(f"no file for PAD model {self.spec.file}")
                self._session = ort.InferenceSession(
                    str(self.path), providers=["CPUExecutionProvider"]
                )

    def _input(self, image: ImageArray, box: BBox) -> np.ndarray[Any, np.dtype[np.float32]]:
        spec = self.spec
        crop = square_crop(image, box, self.crop_scale, spec.input_size).astype(np.float32)
        if spec.colour_order == "BGR":
            crop = np.ascontiguousarray(crop[:, :, ::-1])
        norm = spec.normalisation
        scaled = (crop - np.array(norm.mean, np.float32)) / np.array(norm.std, np.float32)
        tensor = scaled[None] if spec.layout == "NHWC" else scaled.transpose(2, 0, 1)[None]
        return np.ascontiguousarray(tensor, dtype=np.float32)

    def score(self, image: ImageArray, box: BBox) -> float:
        if self._session is None:
            self.load()
        session = self._session
        if session is None:
            raise RuntimeError("PAD session did not load")
        name = _input_name(session)
        raw = np.asarray(session.run(None, {name: self._input(image, box)})[0], np.float64)
        row = raw.reshape(raw.shape[0], -1)[0]
        if row.size == 1:
            return float(row[0])
        exp = np.exp(row - row.max())
        return float(exp[self.spec.live_index] / exp.sum())


def _input_name(session: InferenceSession) -> str:
    inputs = getattr(session, "get_inputs", None)
    if callable(inputs):
        return str(inputs()[0].name)
    return "input"
