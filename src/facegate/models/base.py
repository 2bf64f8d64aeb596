"""Interfaces every model backend implements.

A backend has a cheap constructor, an idempotent :meth:`load` (files are checked against their
pinned SHA-256 there, never at import time) and does its work on RGB ``uint8`` arrays of shape
``(H, W, 3)``. Runtimes hide behind :class:`InferenceSession`, so tests can inject a fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from facegate.types import BBox, FloatArray, ImageArray, Landmarks


@runtime_checkable
class InferenceSession(Protocol):
    """The one method facegate needs from a runtime (ONNX Runtime's signature)."""

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, npt.NDArray[np.generic]]
    ) -> Sequence[npt.NDArray[np.generic]]: ...


@runtime_checkable
class Detector(Protocol):
    """Finds faces: boxes in pixels of the input image, with a confidence score."""

    name: str

    def load(self) -> None: ...

    def detect(self, image: ImageArray) -> list[tuple[BBox, float]]: ...


@dataclass(frozen=True, slots=True, eq=False)
class Detection:
    """One face a detector found: its box, score and, where the detector gives them, keypoints
    (pixel coordinates of the same image, in the detector's ``keypoint_layout``)."""

    box: BBox
    score: float
    keypoints: Landmarks | None = None


@runtime_checkable
class KeypointDetector(Detector, Protocol):
    """A detector that also places keypoints. ``keypoint_layout`` names their order:
    ``arcface5`` is left eye, right eye, nose tip, left and right mouth corner (left and right
    as seen in the image), the order of InsightFace's ArcFace alignment template."""

    keypoint_layout: str

    def detect_keypoints(self, image: ImageArray) -> list[Detection]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Places landmarks on a face given its box."""

    num_points: int

    def load(self) -> None: ...

    def landmarks(self, image: ImageArray, box: BBox) -> Landmarks: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns aligned face chips into embeddings.

    ``chips`` is ``(N, size, size, 3)`` uint8 RGB, aligned by :mod:`facegate.pipeline.align`;
    the result is ``(N, dim)`` float32, L2-normalised row by row.
    """

    chip_size: int
    dim: int

    def load(self) -> None: ...

    def embed(self, chips: ImageArray) -> FloatArray: ...
