"""Face image quality: component measures and a unified 0-100 score.

In the spirit of ISO/IEC 29794-5 and OFIQ, but simpler and not conformant to either: four
components, each scaled to [0, 1], measured on the aligned chip and the 5 landmarks:

- ``size``: inter-eye distance in pixels of the original image (0 at 20 px or less, 1 at 60 px
  or more); small faces carry less identity information.
- ``sharpness``: variance of the Laplacian of the grey chip, on a log scale (0 at 10, 1 at 500).
- ``exposure``: how far the chip's mean brightness is from mid-grey, and whether its contrast
  is too low (a dark, washed-out or flat face scores low).
- ``frontal``: where the nose tip lies between the two eyes horizontally (1 when centred; 0 when
  it reaches an eye, a strong head turn).

The unified score is 100 times the geometric mean of the components, so one bad component pulls
it down. It ranks images for enrolment and reporting; it is not a calibrated predictor of match
accuracy. Pure functions: arrays in, values out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.types import ImageArray, Landmarks


@dataclass(frozen=True, slots=True)
class Quality:
    """Component measures in [0, 1] and the unified 0-100 score."""

    size: float
    sharpness: float
    exposure: float
    frontal: float

    @property
    def score(self) -> float:
        parts = (self.size, self.sharpness, self.exposure, self.frontal)
        return 100.0 * math.prod(max(p, 1e-3) for p in parts) ** (1 / len(parts))


def _ramp(value: float, low: float, high: float) -> float:
    return float(min(max((value - low) / (high - low), 0.0), 1.0))


def eye_centres(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the subject's right and left eye from dlib's 5 points."""
    pts = landmarks.points.astype(np.float64)
    return (pts[0] + pts[1]) / 2.0, (pts[2] + pts[3]) / 2.0


def face_quality(chip: ImageArray, landmarks: Landmarks) -> Quality:
    """Quality of one face from its aligned chip and its 5 landmarks in image pixels."""
    right_eye, left_eye = eye_centres(landmarks)
    inter_eye = float(np.linalg.norm(right_eye - left_eye))
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    centre = grey[
        grey.shape[0] // 5 : -grey.shape[0] // 5, grey.shape[1] // 5 : -grey.shape[1] // 5
    ]
    lap_var = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    mean, std = float(centre.mean()), float(centre.std())
    exposure = (1.0 - _ramp(abs(mean - 128.0), 40.0, 110.0)) * _ramp(std, 8.0, 30.0)
    span = left_eye[0] - right_eye[0]
    nose = float(landmarks.points[4, 0])
    offset = abs((nose - right_eye[0]) / span - 0.5) if abs(span) > 1e-6 else 0.5
    return Quality(
        size=_ramp(inter_eye, 20.0, 60.0),
        sharpness=_ramp(math.log10(lap_var + 1.0), 1.0, math.log10(500.0)),
        exposure=exposure,
        frontal=1.0 - _ramp(offset, 0.0, 0.5),
    )
