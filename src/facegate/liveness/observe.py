"""One frame's liveness observation: the signals of one face, with its time and embedding.

:func:`observe` turns a :class:`~facegate.types.Face` (with 68-point landmarks and an
embedding) into an :class:`Observation`; the session state machine works only on these values,
so it can be driven by a camera, by the HTTP API or by recorded sequences alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from facegate.errors import LivenessError
from facegate.imageio import ImageSource
from facegate.liveness import signals
from facegate.models.base import Landmarker
from facegate.types import DetectResult, Face, FloatArray, ImageArray


@dataclass(frozen=True, slots=True, eq=False)
class Observation:
    """Liveness signals of one face in one frame.

    ``points`` are the 68 landmarks (pixels); ``embedding`` is the face's L2-normalised
    template (for the one-face-per-session check), or ``None`` when it could not be embedded.
    """

    points: FloatArray
    ear: float
    mar: float
    mouth_width: float
    yaw: float
    pitch: float
    size: float
    embedding: FloatArray | None


def observe(face: Face, image_size: tuple[int, int]) -> Observation:
    """The liveness signals of ``face`` in an image of ``image_size`` = ``(width, height)``.

    Raises :class:`~facegate.errors.LivenessError` when the face has no 68-point landmarks
    (enable them on the engine: ``EngineConfig(landmarks68=True)``).
    """
    if face.landmarks68 is None or len(face.landmarks68) != 68:
        raise LivenessError("liveness needs 68-point landmarks: enable landmarks68 on the engine")
    vector = face.embedding.vector if face.embedding is not None else None
    return observation_from_points(face.landmarks68.points, vector, image_size)


def observation_from_points(
    points68: npt.ArrayLike, embedding: FloatArray | None, image_size: tuple[int, int]
) -> Observation:
    """The observation of a face given its 68 landmarks and embedding."""
    pts = np.asarray(points68, dtype=np.float32)
    pose = signals.head_pose(pts, image_size)
    return Observation(
        points=pts,
        ear=signals.eye_aspect_ratio(pts),
        mar=signals.mouth_aspect_ratio(pts),
        mouth_width=signals.mouth_width(pts),
        yaw=pose.yaw,
        pitch=pose.pitch,
        size=signals.face_size(pts),
        embedding=embedding,
    )


class FrameAnalyzer(Protocol):
    """What liveness needs from :class:`~facegate.pipeline.engine.FaceEngine` (with
    ``landmarks68`` enabled): faces with 68 landmarks and embeddings."""

    def analyze(self, image: ImageSource) -> DetectResult: ...


def observe_frame(analyzer: FrameAnalyzer, image: ImageSource) -> list[Observation]:
    """The liveness observation of every face in one frame."""
    found = analyzer.analyze(image)
    return [observe(f, (found.width, found.height)) for f in found.faces]


def observe_pixels(
    analyzer: FrameAnalyzer, pixels: ImageArray, landmarker68: Landmarker | None = None
) -> list[Observation]:
    """Observations of the faces in decoded ``pixels``; ``landmarker68`` places the 68
    points where the analyzer gives none (an engine without ``landmarks68``)."""
    found = analyzer.analyze(pixels)
    out = []
    for face in found.faces:
        points = face.landmarks68.points if face.landmarks68 is not None else None
        if points is None and landmarker68 is not None:
            points = landmarker68.landmarks(pixels, face.box).points
        if points is None:
            continue
        vector = face.embedding.vector if face.embedding is not None else None
        out.append(observation_from_points(points, vector, (found.width, found.height)))
    return out
