"""Attendance and exam check-in as a workflow over the gallery (policy: :mod:`.attendance`).

>>> att = Attendance(gallery)
>>> att.define_class("cs101")                        # purpose attendance:cs101
>>> att.add_to_roster("cs101", student.id)
>>> lesson = att.open_session("cs101", "Lecture 3", "class", window)
>>> att.check_in_face(lesson.id, "door-camera.jpg")  # present / late, for roster members
>>> att.check_in_staff(lesson.id, student.id)        # the alternative: a teacher's check
>>> report_csv(att.report(lesson.id))

An exam class (``define_class(..., exam=True)``, purpose ``exam:<class>``) requires liveness:
:meth:`Attendance.check_in_exam` verifies the candidate 1:1 against their registered photo with
a passed liveness session; a face that does not match opens a review case that an
invigilator decides (:meth:`Attendance.decide_review`). Every check-in, refusal and review
decision is a decision record (app ``attendance``) committed with its audit record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from facegate.apps.attendance import (
    CHECKIN_METHODS,
    Report,
    Window,
    age_on,
    build_report,
    needs_guardian,
    refuse_monitoring,
)
from facegate.apps.attendance_store import AttendanceStore, ClassInfo, ReviewCase, SessionInfo
from facegate.apps.decisions import Decision, DecisionLog
from facegate.apps.hashing import image_sha256
from facegate.apps.notices import require_notice
from facegate.errors import (
    AppRecordNotFoundError,
    ConfigError,
    ConsentRequiredError,
    InvalidRequestError,
    PurposeNotFoundError,
    StoreError,
)
from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource
from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor, AuditEvent, score_band
from facegate.store.sql import SqlStore

Detail = dict[str, str | int | float | bool | None]
ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The outcome for one person: ``present``, ``late``, ``review`` (an invigilator decides),
    ``already`` (checked in before), or ``not-on-roster`` / ``unknown`` (nobody counted)."""

    session_id: str
    subject_id: str | None
    status: str
    method: str
    review_case: int | None = None
    similarity: float | None = None
    operating_point: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "subject_id": self.subject_id,
            "status": self.status,
            "method": self.method,
            "review_case": self.review_case,
            "operating_point": self.operating_point,
        }


class Attendance:
    """Classes, rosters, sessions, check-ins, review cases and guardian consents."""

    def __init__(self, gallery: Gallery, decisions: DecisionLog | None = None) -> None:
        store = gallery.store
        if not isinstance(store, SqlStore):
            raise ConfigError("attendance needs the SQL store")
        self.gallery = gallery
        self.clock = store.clock
        self.store = AttendanceStore(store.transactions, store.clock)
        self.decisions = decisions or DecisionLog(gallery.audit, store.clock)

    # classes, rosters, guardians

    def define_class(
        self,
        name: str,
        *,
        exam: bool = False,
        purpose: str | None = None,
        description: str = "",
        actor: Actor | None = None,
    ) -> ClassInfo:
        """A class (or exam cohort) and its purpose; an exam's purpose requires liveness."""
        if not name or len(name) > 48 or not all(c.isalnum() or c in "-_." for c in name):
            raise InvalidRequestError(f"bad class name {name!r}: 1-48 letters, digits, - _ .")
        purpose = purpose or f"{'exam' if exam else 'attendance'}:{name.lower()}"
        try:
            policy = self.gallery.store.get_purpose(purpose)
        except PurposeNotFoundError:
            policy = self.gallery.add_purpose(purpose, description or f"check-in to {name}")
        if exam and policy.liveness_required is not True:
            self.gallery.define_purpose(replace(policy, liveness_required=True), actor)
        info = ClassInfo(name, purpose, description)
        with self.store.tx.write():
            self.store.put_class(info)
            kind = "exam" if exam else "class"
            event = AuditEvent("attendance.class", purpose, (), f"{kind} {name} defined")
            self.gallery.record(event, actor)
        return info

    def add_to_roster(
        self,
        class_name: str,
        subject_id: str,
        birth_date: date | None = None,
        actor: Actor | None = None,
    ) -> None:
        """Put a subject on the roster; one under 14 needs a recorded guardian's consent."""
        info = self.store.get_class(class_name)
        subject = self.gallery.store.get_subject(subject_id)
        if needs_guardian(birth_date, self.clock().date()):
            if not self.store.guardians(subject.row, info.purpose):
                raise ConsentRequiredError(
                    f"subject {subject_id} is under 14: record a guardian's consent for "
                    f"{info.purpose!r} first"
                )
        with self.store.tx.write():
            self.store.put_roster(class_name, subject.row, birth_date)
            event = AuditEvent("attendance.roster", info.purpose, (subject.id,), "on roster")
            self.gallery.record(event, actor)

    def grant_guardian_consent(
        self,
        class_name: str,
        subject_id: str,
        birth_date: date,
        guardian: tuple[str, str, str],
        text: str,
        actor: Actor | None = None,
    ) -> int:
        """A guardian consents for a minor: the consent (method ``guardian``) and the
        guardian's name, relation and contact are recorded; returns the guardian record id."""
        info = self.store.get_class(class_name)
        if not all(part.strip() for part in guardian) or max(map(len, guardian)) > 255:
            raise InvalidRequestError("a guardian's name, relation and contact are required")
        today = self.clock().date()
        if not date(1900, 1, 1) <= birth_date < today:
            raise InvalidRequestError(f"bad birth date {birth_date.isoformat()}")
        if age_on(birth_date, today) >= ADULT_AGE:
            raise InvalidRequestError("an adult gives their own consent, not a guardian")
        subject = self.gallery.store.get_subject(subject_id)
        relation = guardian[1]
        self.gallery.grant_consent(
            subject.id,
            info.purpose,
            evidence=f"guardian consent by the subject's {relation.strip()[:64]}",
            text=text,
            method="guardian",
            actor=actor,
        )
        who = (actor or Actor()).key_id
        clean = (guardian[0].strip(), guardian[1].strip(), guardian[2].strip())
        with self.store.tx.write():
            gid = self.store.add_guardian(subject.row, info.purpose, birth_date, clean, who)
            event = AuditEvent("consent.guardian", info.purpose, (subject.id,), "guardian recorded")
            self.gallery.record(event, actor)
        return gid

    # sessions

    def open_session(
        self,
        class_name: str,
        title: str,
        kind: str,
        window: Window,
        *,
        analyses: Iterable[str] = (),
        actor: Actor | None = None,
    ) -> SessionInfo:
        """A lesson or exam sitting; any requested analysis of people is refused (see
        :func:`facegate.apps.attendance.refuse_monitoring`)."""
        refuse_monitoring(analyses)
        if kind not in ("class", "exam"):
            raise InvalidRequestError("a session's kind is 'class' or 'exam'")
        info = self.store.get_class(class_name)
        with self.store.tx.write():
            session = self.store.add_session(class_name, title[:255], kind, window.check())
            event = AuditEvent("attendance.session", info.purpose, (), f"{kind} session opened")
            self.gallery.record(event, actor)
        return session

    def _open_now(self, session_id: str) -> tuple[SessionInfo, ClassInfo, str]:
        session = self.store.get_session(session_id)
        info = self.store.get_class(session.class_name)
        status = session.window.status_at(self.clock())
        if status is None:
            detail: Detail = {"session": session_id, "reason": "window closed"}
            self.decisions.record(Decision("attendance", info.purpose, "refused", detail=detail))
            raise StoreError(f"check-in for session {session_id} is not open now")
        return session, info, status

    def _on_roster(self, class_name: str) -> dict[str, int]:
        return {sid: row for sid, _, _, row in self.store.roster(class_name)}

    def _decide(
        self,
        info: ClassInfo,
        check: CheckIn,
        actor: Actor | None,
        liveness: str | None = None,
        input_sha256: str | None = None,
    ) -> None:
        outcome = {"present": "present", "late": "present", "already": "present"}.get(
            check.status, "review" if check.status == "review" else "deny"
        )
        detail: Detail = {"session": check.session_id, "method": check.method}
        detail["reason"] = check.status
        if input_sha256 is not None:
            detail["image_sha256"] = input_sha256
        decision = Decision(
            "attendance",
            info.purpose,
            outcome,
            subject_id=check.subject_id,
            operating_point=check.operating_point,
            liveness=liveness,
            score=check.similarity,
            detail=detail,
        )
        self.decisions.record(decision, actor)

    # check-ins

    def check_in_face(
        self,
        session_id: str,
        image: ImageSource,
        *,
        actor: Actor | None = None,
        liveness: LivenessEvidence | None = None,
    ) -> list[CheckIn]:
        """Class check-in: every face in ``image`` found among the class's roster."""
        session, info, status = self._open_now(session_id)
        if session.kind == "exam":
            raise InvalidRequestError("an exam check-in is 1:1: use the exam check-in")
        require_notice(self.gallery, info.purpose)
        found = self.gallery.identify(image, info.purpose, 1, actor=actor, liveness=liveness)
        roster = self._on_roster(session.class_name)
        out = []
        for face in found.faces:
            point = face.operating_point.name
            sid = face.match.subject.id if face.match else None
            if sid is None or sid not in roster:
                state = "unknown" if sid is None else "not-on-roster"
                check = CheckIn(session_id, None, state, "face", None, face.similarity, point)
            else:
                fresh = self.store.check_in(session_id, roster[sid], self.clock(), "face", status)
                state = status if fresh else "already"
                check = CheckIn(session_id, sid, state, "face", None, face.similarity, point)
            self._decide(info, check, actor, None, image_sha256(image))
            out.append(check)
        return out

    def check_in_exam(
        self,
        session_id: str,
        subject_id: str,
        image: ImageSource,
        *,
        liveness: LivenessEvidence | None,
        actor: Actor | None = None,
    ) -> CheckIn:
        """Exam check-in: 1:1 against the candidate's registered photo, liveness required; a
        face that does not match opens a review case for a person to decide."""
        session, info, status = self._open_now(session_id)
        require_notice(self.gallery, info.purpose)
        roster = self._on_roster(session.class_name)
        if subject_id not in roster:
            raise AppRecordNotFoundError(f"no candidate {subject_id!r} on this exam's roster")
        result = self.gallery.verify(
            image, subject_id, info.purpose, liveness=liveness, actor=actor
        )
        point = result.operating_point.name
        lively = liveness.describe() if liveness else None
        row = roster[subject_id]
        if result.match:
            fresh = self.store.check_in(session_id, row, self.clock(), "face", status)
            check = CheckIn(
                session_id,
                subject_id,
                status if fresh else "already",
                "face",
                None,
                result.similarity,
                point,
            )
        else:
            with self.store.tx.write():
                case = self.store.open_case(
                    session_id,
                    row,
                    "face does not match the registered photo",
                    score_band(result.similarity),
                )
                self.store.check_in(session_id, row, self.clock(), "face", "review")
                check = CheckIn(
                    session_id, subject_id, "review", "face", case, result.similarity, point
                )
                self._decide(info, check, actor, lively, image_sha256(image))
            return check
        self._decide(info, check, actor, lively, image_sha256(image))
        return check

    def check_in_staff(
        self, session_id: str, subject_id: str, method: str = "staff", actor: Actor | None = None
    ) -> CheckIn:
        """The alternative path: a teacher or invigilator checks the person (ID card, name)."""
        if method not in CHECKIN_METHODS or method in ("face", "review"):
            raise InvalidRequestError("an alternative check-in method is 'staff' or 'card'")
        session, info, status = self._open_now(session_id)
        roster = self._on_roster(session.class_name)
        if subject_id not in roster:
            raise AppRecordNotFoundError(f"no subject {subject_id!r} on this roster")
        fresh = self.store.check_in(session_id, roster[subject_id], self.clock(), method, status)
        check = CheckIn(session_id, subject_id, status if fresh else "already", method)
        self._decide(info, check, actor)
        return check

    # review queue

    def reviews(
        self, status: str | None = "open", session_id: str | None = None
    ) -> list[ReviewCase]:
        return self.store.cases(status, session_id)

    def decide_review(
        self, case_id: int, accept: bool, note: str = "", actor: Actor | None = None
    ) -> ReviewCase:
        """An invigilator's decision: accepted (checked in as of the attempt) or rejected."""
        who = (actor or Actor()).key_id
        verdict = "accepted" if accept else "rejected"
        with self.store.tx.write():
            case, row = self.store.decide_case(case_id, verdict, who, note)
            session = self.store.get_session(case.session_id)
            if accept:
                status = session.window.status_at(case.created_at) or "late"
                # replaces the pending "review" check-in
                self.store.check_in(case.session_id, row, case.created_at, "review", status)
            else:
                self.store.clear_pending(case.session_id, row)
            info = self.store.get_class(session.class_name)
            outcome = "present" if accept else "rejected"
            self._decide(info, CheckIn(case.session_id, case.subject_id, outcome, "review"), actor)
        return case

    # report

    def report(self, session_id: str) -> Report:
        session = self.store.get_session(session_id)
        roster = [(sid, name) for sid, name, _, _ in self.store.roster(session.class_name)]
        head = (session.id, session.class_name, session.title, session.kind, session.window)
        return build_report(head, roster, self.store.checkins(session_id))
