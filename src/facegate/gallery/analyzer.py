"""What the gallery service needs from a face engine (a `facegate.pipeline.engine.FaceEngine`)."""

from __future__ import annotations

from typing import Protocol

from facegate.imageio import ImageSource
from facegate.pipeline.calibration import Calibration
from facegate.types import DetectResult


class FaceAnalyzer(Protocol):
    """What the gallery needs from :class:`facegate.pipeline.engine.FaceEngine`."""

    @property
    def pack_id(self) -> str: ...

    @property
    def calibration(self) -> Calibration: ...

    def analyze(self, image: ImageSource) -> DetectResult: ...
