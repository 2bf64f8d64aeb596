"""The challenges a liveness session can ask for, and how each is recognised in landmarks.

Each challenge is judged against a *baseline*: the median signals of the frames just before its
prompt (the "hold still" phase). A challenge is done at the first frame after its prompt whose
signals differ from the baseline by its threshold (a blink: the eyes close and open again).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from facegate.liveness.observe import Observation


class Challenge(StrEnum):
    """What the person in front of the camera is asked to do."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    SMILE = "smile"  # smile or open the mouth
    MOVE_CLOSER = "move_closer"


PROMPTS = {
    Challenge.BLINK: "Blink",
    Challenge.TURN_LEFT: "Turn your head to your left",
    Challenge.TURN_RIGHT: "Turn your head to your right",
    Challenge.SMILE: "Smile or open your mouth",
    Challenge.MOVE_CLOSER: "Move closer to the camera",
}
TURNS = (Challenge.TURN_LEFT, Challenge.TURN_RIGHT)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How large a change counts as a challenge done (defaults measured on real video)."""

    blink_closed_ratio: float = 0.75  # eyes closed: EAR below this share of the baseline
    blink_open_ratio: float = 0.9  # open again: EAR back above this share
    turn_degrees: float = 15.0  # yaw change from the baseline
    mouth_open: float = 0.15  # inner-lip aspect ratio above the baseline's
    smile_width: float = 1.12  # mouth width over the baseline's
    closer_ratio: float = 1.2  # face size over the baseline's


@dataclass(frozen=True, slots=True)
class Baseline:
    """Median signals of the frames before a prompt."""

    ear: float
    mar: float
    mouth_width: float
    yaw: float
    size: float

    @staticmethod
    def of(frames: Sequence[Observation]) -> Baseline:
        if not frames:
            raise ValueError("a baseline needs at least one frame")
        return Baseline(
            ear=float(np.median([f.ear for f in frames])),
            mar=float(np.median([f.mar for f in frames])),
            mouth_width=float(np.median([f.mouth_width for f in frames])),
            yaw=float(np.median([f.yaw for f in frames])),
            size=float(np.median([f.size for f in frames])),
        )


def shown(challenge: Challenge, base: Baseline, frame: Observation, t: Thresholds) -> bool:
    """Does ``frame`` show ``challenge`` against ``base``? (For a blink: are the eyes shut?)"""
    if challenge is Challenge.BLINK:
        return frame.ear < t.blink_closed_ratio * base.ear
    if challenge is Challenge.TURN_LEFT:
        return frame.yaw - base.yaw >= t.turn_degrees
    if challenge is Challenge.TURN_RIGHT:
        return base.yaw - frame.yaw >= t.turn_degrees
    if challenge is Challenge.SMILE:
        return (
            frame.mar - base.mar >= t.mouth_open
            or frame.mouth_width >= t.smile_width * base.mouth_width
        )
    return frame.size >= t.closer_ratio * base.size


def done_at(
    challenge: Challenge,
    base: Baseline,
    frames: Sequence[Observation],
    t: Thresholds,
    before: Sequence[Observation] = (),
) -> int | None:
    """Index of the frame in ``frames`` (those after the prompt) at which ``challenge`` is
    done, or ``None``. Turns and moving closer are swings from the extreme pose since the
    ``before`` frames (so a head still moving at the prompt is judged from where it got to);
    a blink is done when the eyes, shut (under 75% of the widest opening seen), open again
    (to 90% of it)."""
    yaws = [f.yaw for f in before] or [base.yaw]
    sizes = [f.size for f in before] or [base.size]
    low_yaw, high_yaw, small = min(yaws), max(yaws), min(sizes)
    open_ear = max([f.ear for f in before] or [base.ear])
    closed = False
    for i, frame in enumerate(frames):
        low_yaw, high_yaw = min(low_yaw, frame.yaw), max(high_yaw, frame.yaw)
        small = min(small, frame.size)
        if not closed:
            open_ear = max(open_ear, frame.ear)
        if challenge is Challenge.TURN_LEFT and frame.yaw - low_yaw >= t.turn_degrees:
            return i
        if challenge is Challenge.TURN_RIGHT and high_yaw - frame.yaw >= t.turn_degrees:
            return i
        if challenge is Challenge.MOVE_CLOSER and frame.size >= t.closer_ratio * small:
            return i
        if challenge is Challenge.SMILE and shown(challenge, base, frame, t):
            return i
        if challenge is not Challenge.BLINK:
            continue
        if frame.ear < t.blink_closed_ratio * open_ear:
            closed = True
        elif closed and frame.ear >= t.blink_open_ratio * open_ear:
            return i
    return None


def draw_challenges(
    count: int | None = None, pool: Sequence[Challenge] | None = None
) -> tuple[Challenge, ...]:
    """A random sequence of 2 or 3 different challenges from ``pool`` (default: all; ``count``
    fixes the length) with at least one head turn, which the planarity check needs (a turn
    shows parallax)."""
    rng = secrets.SystemRandom()
    choices = list(dict.fromkeys(pool)) if pool is not None else list(Challenge)
    if not any(c in TURNS for c in choices):
        raise ValueError("the challenges to draw from need a head turn")
    length = count if count is not None else rng.choice((2, min(3, len(choices))))
    if not 2 <= length <= len(choices):
        raise ValueError(f"a session has 2 to {len(choices)} challenges, not {length}")
    while True:
        picked = tuple(rng.sample(choices, length))
        if any(c in TURNS for c in picked):
            return picked
