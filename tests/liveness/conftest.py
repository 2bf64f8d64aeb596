"""Fixtures: a face engine with 68-point landmarks, and recorded sequences of real frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.liveness.observe import Observation, observe_frame
from facegate.pipeline.engine import FaceEngine

Recording = list[tuple[float, list[Observation]]]
HAMILTON_FPS = 29.97


@pytest.fixture(scope="session")
def engine68() -> FaceEngine:
    return FaceEngine(EngineConfig(landmarks68=True, upsample=1))


@pytest.fixture(scope="session")
def hamilton_clip(shared_data: Path) -> Path:
    path = shared_data / "video" / "short_hamilton_clip.mp4"
    if not path.exists():
        pytest.skip(f"the Hamilton clip is not at {path}")
    return path


def read_frames(path: Path, first: int, last: int) -> list[np.ndarray]:
    """RGB frames ``first`` to ``last - 1`` of a video file."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while index < last:
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= first:
            frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        index += 1
    cap.release()
    return frames


@pytest.fixture(scope="session")
def hamilton_turns(engine68: FaceEngine, hamilton_clip: Path) -> Recording:
    """Frames 80-175 of the Hamilton clip: one singer turns his head to his right (frames
    82-100), then to his left (138-152). Timestamps in ms from the clip's frame rate."""
    frames = read_frames(hamilton_clip, 80, 176)
    return [
        (1000.0 * k / HAMILTON_FPS, observe_frame(engine68, frame))
        for k, frame in enumerate(frames)
    ]


@pytest.fixture(scope="session")
def obama_print(engine68: FaceEngine, examples: Path) -> np.ndarray:
    """obama.jpg cropped around the face, as it would be printed for a print attack."""
    photo = np.ascontiguousarray(cv2.imread(str(examples / "obama.jpg"))[:, :, ::-1])
    box = engine68.detect(photo).faces[0].box
    cx, cy = box.center
    half = box.width * 1.6
    top, left = int(max(cy - half, 0)), int(max(cx - 0.8 * half, 0))
    return np.ascontiguousarray(photo[top : int(cy + half), left : int(cx + 0.8 * half)])
