"""Domain values shared by every layer.

All boxes are in pixels of the decoded (EXIF-rotated) image, as ``(x1, y1, x2, y2)`` with
``x1 < x2`` and ``y1 < y2``: left, top, right, bottom. Landmarks are ``(x, y)`` pixel
coordinates in the same frame. Embeddings are float32 and L2-normalised, so the cosine
similarity of two embeddings is their dot product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]
# Progress of long work: (what, done, total; total 0 when unknown). Library code calls it; only
# the CLI draws it (a progress bar on a terminal's stderr).
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in pixels: left ``x1``, top ``y1``, right ``x2``, bottom ``y2``."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def clip(self, width: int, height: int) -> BBox:
        """The box clipped to an image of ``width`` x ``height`` pixels."""
        return BBox(
            min(max(self.x1, 0.0), float(width)),
            min(max(self.y1, 0.0), float(height)),
            min(max(self.x2, 0.0), float(width)),
            min(max(self.y2, 0.0), float(height)),
        )

    def iou(self, other: BBox) -> float:
        """Intersection over union with ``other`` (0 when they do not overlap)."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self) -> list[float]:
        return [round(self.x1, 2), round(self.y1, 2), round(self.x2, 2), round(self.y2, 2)]


@dataclass(frozen=True, slots=True, eq=False)
class Landmarks:
    """Facial landmarks as an ``(N, 2)`` float32 array of ``(x, y)`` pixel coordinates.

    The 5-point layout is dlib's: right eye outer corner, right eye inner corner, left eye
    outer corner, left eye inner corner, bottom of the nose (the subject's right and left).
    """

    points: FloatArray

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def as_list(self) -> list[list[float]]:
        return [[round(float(x), 2), round(float(y), 2)] for x, y in self.points]


@dataclass(frozen=True, slots=True, eq=False)
class Embedding:
    """A face template: an L2-normalised float32 vector and the pack that produced it."""

    vector: FloatArray
    pack: str

    @staticmethod
    def from_raw(raw: npt.ArrayLike, pack: str) -> Embedding:
        """Normalise ``raw`` to unit length (float32) and wrap it."""
        vec = np.asarray(raw, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec = vec / norm
        return Embedding(vec.astype(np.float32, copy=False), pack)

    def similarity(self, other: Embedding) -> float:
        """Cosine similarity with ``other`` (both are unit vectors)."""
        return float(np.dot(self.vector, other.vector))


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    """One detected face and what the pipeline learned about it."""

    box: BBox
    score: float
    landmarks: Landmarks | None = None
    landmarks68: Landmarks | None = None
    embedding: Embedding | None = None
    quality: float | None = None
    keypoints: Landmarks | None = None  # the detector's own points (MTCNN: ArcFace 5-point order)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape used by the CLI and the HTTP API."""
        out: dict[str, Any] = {
            "box": self.box.as_list(),
            "score": round(float(self.score), 4),
            "landmarks": self.landmarks.as_list() if self.landmarks is not None else None,
        }
        if self.landmarks68 is not None:
            out["landmarks68"] = self.landmarks68.as_list()
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 2)
        if self.keypoints is not None:
            out["keypoints"] = self.keypoints.as_list()
        return out


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A decision threshold named by the error rate it was calibrated for, e.g. ``fmr=1e-4``."""

    name: str
    threshold: float
    calibration: str = ""  # which calibration set it, e.g. "dlib:shipped", "dlib:deployment"


@dataclass(frozen=True, slots=True, eq=False)
class VerifyResult:
    """The answer to a 1:1 comparison."""

    match: bool
    similarity: float
    operating_point: OperatingPoint
    face_a: Face
    face_b: Face

    def to_dict(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "similarity": round(self.similarity, 6),
            "operating_point": self.operating_point.name,
            "threshold": round(self.operating_point.threshold, 6),
            "calibration": self.operating_point.calibration,
            "face_a": self.face_a.to_dict(),
            "face_b": self.face_b.to_dict(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class DetectResult:
    """Faces found in one image, largest first is not implied: order is the detector's."""

    width: int
    height: int
    faces: list[Face] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict() for f in self.faces],
        }
