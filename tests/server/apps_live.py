"""Passed liveness sessions for application tests, from the real Hamilton clip.

The clip's frames 80-175 show one singer turning right, then left. :func:`recording` observes
them once with a real engine (68 landmarks); :func:`passed_session` feeds that recording to the
server's own :class:`~facegate.server.liveness_sessions.LivenessSessions` (the state machine the
``/v1/liveness/sessions`` routes drive), with the session clock following the frame times, so
each payment or registration can spend a session of its own without re-running detection on
96 frames. ``tests/server/test_liveness_api.py`` covers the same sessions over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from facegate.config import EngineConfig
from facegate.liveness.challenges import Challenge
from facegate.liveness.observe import Observation, observe_frame
from facegate.liveness.session import SessionPolicy, Status
from facegate.pipeline.engine import FaceEngine
from facegate.server.liveness_sessions import LivenessSessions

FPS = 29.97
Recording = list[tuple[float, list[Observation]]]


def hamilton_frames(shared_data: Path, first: int = 80, last: int = 176) -> list[bytes]:
    """JPEG frames ``first`` to ``last - 1`` of the Hamilton clip."""
    path = shared_data / "video" / "short_hamilton_clip.mp4"
    if not path.exists():
        pytest.skip(f"the Hamilton clip is not at {path}")
    cap = cv2.VideoCapture(str(path))
    out = []
    for index in range(last):
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= first:
            out.append(bytes(cv2.imencode(".jpg", bgr)[1]))
    cap.release()
    return out


def recording(frames: list[bytes]) -> Recording:
    engine = FaceEngine(EngineConfig(landmarks68=True, upsample=1))
    return [(1000.0 * k / FPS, observe_frame(engine, jpeg)) for k, jpeg in enumerate(frames)]


class SessionClock:
    """A monotonic clock the test moves with the frames."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def prepare(sessions: LivenessSessions) -> SessionClock:
    """Challenges this clip shows (turn right, then left), and a clock the test drives."""
    clock = SessionClock()
    sessions.clock = clock
    sessions.draw = lambda: ((Challenge.TURN_RIGHT, Challenge.TURN_LEFT), (0.3, 0.8))
    sessions.policy = SessionPolicy()
    return clock


def passed_session(
    sessions: LivenessSessions, clock: SessionClock, key_id: str, frames: Recording
) -> str:
    sid, entry = sessions.create(key_id)
    start = clock.now
    for ts, faces in frames:
        clock.now = start + ts / 1000.0
        verdict = sessions.submit(sid, key_id, entry.session.nonce, ts, faces)
        if verdict.status is not Status.ACTIVE:
            break
    assert verdict.status is Status.PASSED, verdict
    return sid
