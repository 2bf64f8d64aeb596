"""Check-in windows, the report (CSV, HTML), refusals of monitoring, the guardian age."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from facegate.apps.attendance import (
    PROHIBITED_ANALYSES,
    Window,
    age_on,
    build_report,
    needs_guardian,
    refuse_monitoring,
    report_csv,
    report_html,
)
from facegate.errors import InvalidRequestError, ProhibitedPracticeError

NINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = Window(
    NINE - timedelta(minutes=15), NINE, NINE + timedelta(minutes=10), NINE + timedelta(hours=1)
)


def test_window_statuses() -> None:
    assert WINDOW.check() is WINDOW
    assert WINDOW.status_at(NINE - timedelta(minutes=16)) is None
    assert WINDOW.status_at(NINE - timedelta(minutes=15)) == "present"
    assert WINDOW.status_at(NINE + timedelta(minutes=9)) == "present"
    assert WINDOW.status_at(NINE + timedelta(minutes=10)) == "late"
    assert WINDOW.status_at(NINE + timedelta(hours=1)) is None
    with pytest.raises(InvalidRequestError):
        Window(NINE, NINE, NINE, NINE).check()


def test_report_lists_everyone_on_the_roster() -> None:
    roster = [("s2", "=cmd|' /C calc'!A0"), ("s1", "Ann"), ("s3", "Bo <b>")]
    checkins = {
        "s1": (NINE, "face", "present"),
        "s3": (NINE + timedelta(minutes=12), "staff", "late"),
    }
    report = build_report(("as_1", "cs101", "Lecture 3", "class", WINDOW), roster, checkins)
    assert report.counts() == {"present": 1, "late": 1, "absent": 1, "review": 0}
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [(r["subject_id"], r["status"], r["method"]) for r in rows] == [
        ("s2", "absent", ""),
        ("s1", "present", "face"),
        ("s3", "late", "staff"),
    ]
    assert rows[0]["display_name"].startswith("'=")  # no spreadsheet formula
    page = report_html(report)
    assert "Bo &lt;b&gt;" in page and "<b>" not in page.replace("<body>", "")
    assert "1 present, 1 late, 1 absent, 0 review" in page


@pytest.mark.parametrize("analysis", sorted(PROHIBITED_ANALYSES))
def test_emotion_attention_and_behaviour_analysis_is_refused(analysis: str) -> None:
    with pytest.raises(ProhibitedPracticeError, match=r"art\. 5\(1\)\(f\)"):
        refuse_monitoring([analysis.upper()])


def test_other_analyses_are_unknown_and_none_is_fine() -> None:
    refuse_monitoring([])
    refuse_monitoring(["", " "])
    with pytest.raises(InvalidRequestError, match="offers none"):
        refuse_monitoring(["headcount"])


def test_guardian_age() -> None:
    today = date(2026, 12, 2)
    assert age_on(date(2012, 12, 2), today) == 14
    assert age_on(date(2012, 12, 3), today) == 13
    assert needs_guardian(date(2012, 12, 3), today)
    assert not needs_guardian(date(2012, 12, 2), today)
    assert not needs_guardian(None, today)
