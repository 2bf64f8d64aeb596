"""What the gallery service needs from a face engine (a `facegate.pipeline.engine.FaceEngine`)."""

from __future__ import annotations

from typing import Protocol

from facegate.imageio import ImageSource
from facegate.pipeline.calibration import Calibration
from facegate.types import BBox, DetectResult, Face


class FaceAnalyzer(Protocol):
    """What the gallery needs from :class:`facegate.pipeline.engine.FaceEngine`."""

    @property
    def pack_id(self) -> str: ...

    @property
    def calibration(self) -> Calibration: ...

    def analyze(self, image: ImageSource) -> DetectResult: ...


class PackEmbedder(Protocol):
    """An engine of another enabled pack: embeds a face whose box is already known."""

    @property
    def pack_id(self) -> str: ...

    def embed_at(self, image: ImageSource, box: BBox, score: float = 0.0) -> Face: ...
