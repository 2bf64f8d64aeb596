"""Attendance and exams over a real gallery (fake engine): windows, review queue, guardians."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image, person_vector

from facegate.apps import NoticeText, set_notice
from facegate.apps.attendance import Window, report_csv
from facegate.apps.attendance_service import Attendance
from facegate.errors import (
    ConsentRequiredError,
    InvalidRequestError,
    LivenessRequiredError,
    ProhibitedPracticeError,
    StoreError,
)
from facegate.gallery.service import Gallery
from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor

NOTICE = NoticeText("City School", "dpo@school.example", "Tell your teacher; they tick you in.")
NINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = Window(
    NINE - timedelta(minutes=15), NINE, NINE + timedelta(minutes=10), NINE + timedelta(hours=1)
)


class Clock:
    def __init__(self) -> None:
        self.now = NINE - timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gallery(tmp_path: Path, clock: Clock) -> Iterator[Gallery]:
    with Gallery.open(tmp_path, engine=FakeEngine(), clock=clock) as g:
        yield g


def _student(gallery: Gallery, purpose: str, person: int) -> str:
    subject = gallery.create_subject(f"student {person:02d}")
    gallery.grant_consent(subject.id, purpose, evidence="form")
    gallery.enroll(subject.id, [face_image(person)], purpose)
    return subject.id


def _live(person: int, passed: bool = True) -> LivenessEvidence:
    return LivenessEvidence(
        "lv_test", passed, "active-challenge-v1", "default", "2 of 2", person_vector(person, 9)
    )


def test_class_check_in_window_report_and_the_alternative(gallery: Gallery, clock: Clock) -> None:
    att = Attendance(gallery)
    info = att.define_class("cs101")
    set_notice(gallery, info.purpose, NOTICE)
    a, b, c = (_student(gallery, info.purpose, p) for p in (1, 2, 3))
    outsider = _student(gallery, info.purpose, 4)  # consented, not on the roster
    for sid in (a, b, c):
        att.add_to_roster("cs101", sid)
    lesson = att.open_session("cs101", "Lecture 3", "class", WINDOW)
    got = att.check_in_face(lesson.id, face_image(1, variant=2, faces=1), actor=Actor("kiosk"))
    assert [(x.subject_id, x.status) for x in got] == [(a, "present")]
    again = att.check_in_face(lesson.id, face_image(1, variant=3))
    assert again[0].status == "already"
    assert att.check_in_face(lesson.id, face_image(4, variant=1))[0].status == "not-on-roster"
    assert att.check_in_face(lesson.id, face_image(99))[0].status == "unknown"
    clock.now = NINE + timedelta(minutes=12)
    assert att.check_in_staff(lesson.id, b).status == "late"  # the teacher's check
    report = att.report(lesson.id)
    assert {r.subject_id: r.status for r in report.rows} == {a: "present", b: "late", c: "absent"}
    assert outsider not in report_csv(report)
    clock.now = NINE + timedelta(hours=2)
    with pytest.raises(StoreError, match="not open"):
        att.check_in_staff(lesson.id, c)
    outcomes = [r.outcome for r in att.decisions.records("attendance")]
    assert outcomes == ["refused", "present", "deny", "deny", "present", "present"]
    assert gallery.audit.verify().ok


def test_monitoring_options_are_refused(gallery: Gallery) -> None:
    att = Attendance(gallery)
    att.define_class("cs101")
    for asked in (["emotion"], ["attention", "engagement"], ["Behaviour"]):
        with pytest.raises(ProhibitedPracticeError, match="EU AI Act"):
            att.open_session("cs101", "x", "class", WINDOW, analyses=asked)
    assert att.store.sessions("cs101") == []


def test_exam_check_in_with_liveness_and_review_queue(gallery: Gallery) -> None:
    att = Attendance(gallery)
    info = att.define_class("final-2026", exam=True)
    assert info.purpose == "exam:final-2026"
    assert gallery.store.get_purpose(info.purpose).liveness_required is True
    set_notice(gallery, info.purpose, NOTICE)
    ann, bo = _student(gallery, info.purpose, 11), _student(gallery, info.purpose, 12)
    att.add_to_roster("final-2026", ann)
    att.add_to_roster("final-2026", bo)
    exam = att.open_session("final-2026", "Final", "exam", WINDOW)
    with pytest.raises(LivenessRequiredError):
        att.check_in_exam(exam.id, ann, face_image(11, 1), liveness=None)
    ok = att.check_in_exam(exam.id, ann, face_image(11, 9), liveness=_live(11))
    assert ok.status == "present"
    # someone else sits for Bo: their face passes liveness but is not Bo's
    suspect = att.check_in_exam(exam.id, bo, face_image(13, 9), liveness=_live(13))
    assert suspect.status == "review" and suspect.review_case is not None
    [case] = att.reviews()
    assert case.subject_id == bo and case.status == "open" and case.score_band
    assert att.report(exam.id).counts()["review"] == 1
    with pytest.raises(InvalidRequestError, match="1:1"):
        att.check_in_face(exam.id, face_image(11, 2))
    decided = att.decide_review(case.id, accept=False, note="not the candidate", actor=Actor("inv"))
    assert decided.status == "rejected" and decided.decided_by == "inv"
    with pytest.raises(StoreError, match="already rejected"):
        att.decide_review(case.id, accept=True)
    statuses = {r.subject_id: r.status for r in att.report(exam.id).rows}
    assert statuses == {ann: "present", bo: "absent"}
    records = list(reversed(att.decisions.records("attendance")))
    assert [r.outcome for r in records] == ["present", "review", "deny"]
    assert records[2].detail == {"session": exam.id, "method": "review", "reason": "rejected"}
    assert "liveness passed" in (records[0].liveness or "")
    refused = gallery.audit.records(operation="verify")[0]
    assert refused.decision == "refused: LivenessRequiredError"


def test_accepted_review_checks_the_candidate_in(gallery: Gallery) -> None:
    att = Attendance(gallery)
    info = att.define_class("oral", exam=True)
    set_notice(gallery, info.purpose, NOTICE)
    bo = _student(gallery, info.purpose, 12)
    att.add_to_roster("oral", bo)
    exam = att.open_session("oral", "Oral", "exam", WINDOW)
    case = att.check_in_exam(exam.id, bo, face_image(14, 9), liveness=_live(14)).review_case
    assert case is not None
    att.decide_review(case, accept=True, note="ID card checked")
    [row] = att.report(exam.id).rows
    assert (row.status, row.method) == ("present", "review")


def test_under_14_needs_a_guardian_recorded_with_details(gallery: Gallery, clock: Clock) -> None:
    att = Attendance(gallery)
    info = att.define_class("year-3")
    kid = gallery.create_subject("Kid").id
    born = date(2018, 5, 1)
    with pytest.raises(ConsentRequiredError, match="under 14"):
        att.add_to_roster("year-3", kid, born)
    with pytest.raises(InvalidRequestError):
        att.grant_guardian_consent("year-3", kid, date(1990, 1, 1), ("A", "mother", "a@x"), "t")
    with pytest.raises(InvalidRequestError):
        att.grant_guardian_consent("year-3", kid, born, ("A", " ", "a@x"), "t")
    gid = att.grant_guardian_consent(
        "year-3", kid, born, ("Mia Park", "mother", "+82 10 1234 5678"), "I consent for my child"
    )
    assert gid > 0
    att.add_to_roster("year-3", kid, born)
    [consent] = gallery.consents(kid)
    assert consent.purpose == info.purpose and consent.method == "guardian"
    [record] = att.store.guardians(gallery.store.get_subject(kid).row, info.purpose)
    assert record["guardian_name"] == "Mia Park" and record["guardian_relation"] == "mother"
    assert "consent.guardian" in [r.operation for r in gallery.audit.records()]
    gallery.erase(kid)  # the guardian's record goes with the child's
    assert att.store.roster("year-3") == []
