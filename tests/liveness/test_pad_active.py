"""Bona fide sessions fitted to a real clip (the measurement of BPCER in ``facegate eval pad``)."""

from __future__ import annotations

from facegate.eval.pad_active import Clip, clip_events, fitted_sessions
from facegate.liveness.challenges import Challenge
from facegate.liveness.observe import Observation
from facegate.liveness.session import Status

Recording = list[tuple[float, list[Observation]]]


def test_the_movements_of_a_real_clip_are_found(hamilton_turns: Recording) -> None:
    events = clip_events(Clip("hamilton", hamilton_turns))
    turns = [e.challenge for e in events if e.challenge is not Challenge.BLINK]
    assert turns == [Challenge.TURN_RIGHT, Challenge.TURN_LEFT], events


def test_sessions_are_fitted_only_where_the_clip_goes_on_after_the_last_movement(
    hamilton_turns: Recording,
) -> None:
    # The clip stops half a second after the turn to the left: no session ends with it.
    short = fitted_sessions(Clip("hamilton", hamilton_turns))
    assert all(s.challenges[-1] is not Challenge.TURN_LEFT for s in short)
    # The same person then holds still for a second (the last frame's face, repeated).
    last_ms, last_faces = hamilton_turns[-1]
    held = [(last_ms + 33.4 * (k + 1), last_faces) for k in range(30)]
    sessions = fitted_sessions(Clip("hamilton", [*hamilton_turns, *held]))
    ending_left = [s for s in sessions if s.challenges[-1] is Challenge.TURN_LEFT]
    assert len(ending_left) >= 2
    assert {s.challenges[0] for s in sessions} == {Challenge.TURN_RIGHT}
    assert all(s.verdict.status is Status.PASSED for s in sessions), [
        s.verdict.reason for s in sessions
    ]
    assert all(len(s.events) == len(s.challenges) for s in sessions)
