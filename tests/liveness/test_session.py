"""The challenge session state machine, on real video frames and on simulated photos."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facegate.errors import LivenessSessionClosedError
from facegate.eval.pad_sim import PlanePose, present
from facegate.liveness.challenges import TURNS, Challenge, draw_challenges
from facegate.liveness.observe import Observation, observe_frame
from facegate.liveness.session import LivenessSession, Status, feed
from facegate.pipeline.engine import FaceEngine

from .conftest import Recording

TURN_RIGHT_THEN_LEFT = (Challenge.TURN_RIGHT, Challenge.TURN_LEFT)


def test_drawn_challenges_are_two_or_three_distinct_with_a_turn() -> None:
    seen = set()
    for _ in range(200):
        drawn = draw_challenges()
        assert 2 <= len(drawn) <= 3
        assert len(set(drawn)) == len(drawn)
        assert any(c in TURNS for c in drawn)
        seen.add(drawn)
    assert len(seen) > 20  # random, not a fixed list


def test_sessions_get_distinct_nonces_and_holds() -> None:
    a, b = LivenessSession(), LivenessSession()
    assert a.nonce != b.nonce
    assert a.holds_s != b.holds_s


def test_a_real_head_turning_as_asked_passes(hamilton_turns: Recording) -> None:
    session = LivenessSession(TURN_RIGHT_THEN_LEFT, holds_s=(0.3, 0.8))
    verdict = feed(session, hamilton_turns)
    assert verdict.status is Status.PASSED, verdict.reason
    assert verdict.done == TURN_RIGHT_THEN_LEFT
    assert verdict.planar_residual is not None and verdict.planar_residual > 0.1


def test_the_same_frames_in_another_order_of_challenges_fail(hamilton_turns: Recording) -> None:
    session = LivenessSession((Challenge.TURN_LEFT, Challenge.TURN_RIGHT), holds_s=(0.3, 0.8))
    verdict = feed(session, hamilton_turns)
    assert verdict.status is Status.FAILED
    assert verdict.reason is not None and "not asked for" in verdict.reason


def test_a_challenge_the_clip_does_not_show_times_out(hamilton_turns: Recording) -> None:
    session = LivenessSession((Challenge.TURN_RIGHT, Challenge.MOVE_CLOSER), holds_s=(0.3, 0.8))
    verdict = feed(session, hamilton_turns)
    assert verdict.status is Status.FAILED
    assert verdict.done == (Challenge.TURN_RIGHT,)


def test_a_still_face_times_out(hamilton_turns: Recording) -> None:
    still = hamilton_turns[2][1]
    frames = [(100.0 * k, still) for k in range(80)]
    session = LivenessSession((Challenge.BLINK, Challenge.TURN_LEFT), holds_s=(0.3, 0.3))
    verdict = feed(session, frames)
    assert verdict.status is Status.FAILED
    assert verdict.reason == "blink not done in time"


def test_a_replay_with_the_old_nonce_fails_at_the_first_frame(hamilton_turns: Recording) -> None:
    recorded = LivenessSession(TURN_RIGHT_THEN_LEFT, holds_s=(0.3, 0.8))
    assert feed(recorded, hamilton_turns).status is Status.PASSED
    fresh = LivenessSession(TURN_RIGHT_THEN_LEFT, holds_s=(0.3, 0.8))
    verdict = feed(fresh, hamilton_turns, nonce=recorded.nonce)
    assert verdict.status is Status.FAILED
    assert verdict.reason == "nonce does not match the session"


def test_timestamps_must_increase_and_not_run_ahead(hamilton_turns: Recording) -> None:
    session = LivenessSession(TURN_RIGHT_THEN_LEFT)
    faces = hamilton_turns[2][1]
    session.submit(session.nonce, 100.0, faces, 100.0)
    verdict = session.submit(session.nonce, 100.0, faces, 140.0)
    assert verdict.status is Status.FAILED
    assert verdict.reason == "frame timestamps are not increasing"
    with pytest.raises(LivenessSessionClosedError):
        session.submit(session.nonce, 200.0, faces, 200.0)
    ahead = LivenessSession(TURN_RIGHT_THEN_LEFT)
    verdict = ahead.submit(ahead.nonce, 5000.0, faces, 100.0)
    assert verdict.reason == "frame timestamp is ahead of the session's clock"


def test_the_deadline_is_the_servers(hamilton_turns: Recording) -> None:
    session = LivenessSession(TURN_RIGHT_THEN_LEFT)
    limit = 1000.0 * session.policy.ttl_s
    verdict = session.submit(session.nonce, limit + 10, hamilton_turns[2][1], limit + 10)
    assert verdict.reason == "deadline passed"
    idle = LivenessSession(TURN_RIGHT_THEN_LEFT)
    assert idle.expire(limit + 1).reason == "deadline passed"


def _as_other_person(face: Observation, other: Observation) -> Observation:
    return replace(face, embedding=other.embedding)


def test_a_second_person_cannot_take_over(
    hamilton_turns: Recording, engine68: FaceEngine, examples
) -> None:  # type: ignore[no-untyped-def]
    """A third of the way through, the frames carry Biden's embedding: no face matches the track."""
    biden = observe_frame(engine68, examples / "biden.jpg")[0]
    half = len(hamilton_turns) // 3
    swapped = hamilton_turns[:half] + [
        (t, [_as_other_person(f, biden) for f in faces]) for t, faces in hamilton_turns[half:]
    ]
    verdict = feed(LivenessSession(TURN_RIGHT_THEN_LEFT, holds_s=(0.3, 0.8)), swapped)
    assert verdict.status is Status.FAILED
    assert verdict.reason == "the face was lost or changed"


@pytest.fixture(scope="module")
def print_attack(engine68: FaceEngine, obama_print: np.ndarray) -> Recording:
    """A printed photo tilted one way, then the other, at 15 frames per second: rendered and
    observed once, then fed to a session for each order of challenges (the frames do not
    depend on the order asked)."""
    return _print_attack(engine68, obama_print)


def _print_attack(engine68: FaceEngine, photo: np.ndarray) -> Recording:
    """A printed photo tilted one way, then the other, at 15 frames per second."""
    tilts = [0.0] * 8 + list(np.linspace(0, 35, 6)) + [35.0] * 3
    tilts += list(np.linspace(35, -35, 10)) + [-35.0] * 3 + list(np.linspace(-35, 0, 5))
    background = np.full((480, 640, 3), 90, np.uint8)
    out: Recording = []
    for k, tilt in enumerate(tilts):
        pose = PlanePose(yaw=float(tilt), roll=2 * np.sin(k), dx=3 * np.cos(k))
        frame = present(photo, pose, (640, 480), background)
        out.append((1000.0 * k / 15, observe_frame(engine68, frame)))
    return out


@pytest.mark.parametrize("order", [TURN_RIGHT_THEN_LEFT, TURN_RIGHT_THEN_LEFT[::-1]])
def test_a_tilted_print_fails(print_attack: Recording, order) -> None:  # type: ignore[no-untyped-def]
    verdict = feed(LivenessSession(order, holds_s=(0.3, 0.5)), print_attack)
    assert verdict.status is Status.FAILED
    if verdict.done == order:  # the tilts faked both turns: planarity refuses them
        assert verdict.reason is not None and "flat picture" in verdict.reason
        assert verdict.planar_residual is not None and verdict.planar_residual < 0.05
