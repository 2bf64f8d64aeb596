"""The door policy: schedule windows, the passage, strangers and tailgating."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facegate.apps.access import SeenFace, Window, allowed_at, decide_credential, decide_face
from facegate.errors import InvalidRequestError

MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday
SATURDAY_8 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_window_parsing_and_membership() -> None:
    office = Window.parse("mon-fri 07:00-19:00")
    assert office.weekdays == frozenset(range(5)) and office.describe() == (
        "mon,tue,wed,thu,fri 07:00-19:00"
    )
    assert office.contains(MONDAY_8)
    assert not office.contains(SATURDAY_8)
    assert not office.contains(MONDAY_8.replace(hour=19))  # the end is exclusive
    night = Window.parse("daily 22:00-06:00")
    assert night.contains(MONDAY_8.replace(hour=23)) and night.contains(MONDAY_8.replace(hour=5))
    assert not night.contains(MONDAY_8)
    weekend = Window.parse("sat,sun 10:00-14:00")
    assert weekend.contains(SATURDAY_8.replace(hour=11)) and not weekend.contains(SATURDAY_8)
    wrap = Window.parse("fri-mon 00:00-24:00")
    assert wrap.weekdays == frozenset({4, 5, 6, 0})


@pytest.mark.parametrize(
    "spec", ["mon-fri", "funday 07:00-08:00", "mon 25:00-26:00", "mon 07:61-08:00", ""]
)
def test_bad_windows_are_refused(spec: str) -> None:
    with pytest.raises(InvalidRequestError):
        Window.parse(spec)


def test_schedules_per_subject_and_for_everyone() -> None:
    assert allowed_at([], "anyone", SATURDAY_8)  # no window: any hour
    windows = [Window.parse("mon-fri 07:00-19:00"), Window.parse("sat 07:00-09:00", "guard")]
    assert allowed_at(windows, "resident", MONDAY_8)
    assert not allowed_at(windows, "resident", SATURDAY_8)
    assert allowed_at(windows, "guard", SATURDAY_8)
    only_guard = [Window.parse("sat 07:00-09:00", "guard")]
    assert not allowed_at(only_guard, "resident", MONDAY_8)


def test_face_decisions() -> None:
    known = SeenFace(10_000.0, "s1", 0.9)
    stranger = SeenFace(9_000.0, None, 0.2)
    far_away = SeenFace(900.0, None, None)  # under a quarter of the largest face's area
    open_ = decide_face("door", [known, far_away], [], MONDAY_8, "fpir=0.01")
    assert open_.open and open_.reason == "allowed" and open_.subject_id == "s1"
    assert open_.faces == 1 and open_.alerts == ()
    tail = decide_face("door", [known, SeenFace(5_000.0, "s2", 0.8)], [], MONDAY_8)
    assert not tail.open and tail.reason == "tailgating" and tail.alerts == ("tailgating",)
    assert tail.subject_id is None
    both = decide_face("door", [known, stranger], [], MONDAY_8)
    assert both.alerts == ("tailgating", "stranger") and not both.open
    alone = decide_face("door", [stranger], [], MONDAY_8)
    assert (alone.open, alone.reason, alone.alerts) == (False, "stranger", ("stranger",))
    nobody = decide_face("door", [], [], MONDAY_8)
    assert (nobody.open, nobody.reason, nobody.faces) == (False, "no-face", 0)
    late = decide_face("door", [known], [Window.parse("mon-fri 09:00-17:00")], MONDAY_8)
    assert (late.open, late.reason, late.subject_id) == (False, "outside-schedule", "s1")
    assert late.describe() == "closed: outside-schedule (face, 1 faces)"


def test_credential_decisions_follow_the_same_schedule() -> None:
    windows = [Window.parse("mon-fri 07:00-19:00")]
    card = decide_credential("door", "card", "s1", windows, MONDAY_8)
    assert card.open and card.method == "card" and card.describe() == "open: allowed (card)"
    assert not decide_credential("door", "pin", "s1", windows, SATURDAY_8).open
    unknown = decide_credential("door", "card", None, windows, MONDAY_8)
    assert (unknown.open, unknown.reason) == (False, "unknown-credential")
