"""``/v1/apps/attendance/...``: classes, rosters, guardians, sessions, check-ins, reviews.

- ``PUT /v1/apps/attendance/classes/{name}`` (admin): a class, or an exam cohort
  (``exam: true``: its purpose requires liveness).
- ``GET /v1/apps/attendance/classes/{name}``: the class, roster and sessions.
- ``POST /v1/apps/attendance/classes/{name}/roster`` (enrol): a subject joins the roster
  (``birth_date`` when known: under 14 needs a guardian's consent first).
- ``POST /v1/apps/attendance/classes/{name}/guardians`` (enrol): a guardian's consent for a
  minor, with the guardian's name, relation and contact.
- ``POST /v1/apps/attendance/classes/{name}/sessions`` (admin): a session and its window;
  ``analyses`` such as emotion or attention are refused (403, EU AI Act art. 5(1)(f)).
- ``POST /v1/apps/attendance/sessions/{id}/checkins`` (identify): class check-in by face.
- ``POST /v1/apps/attendance/sessions/{id}/exam-checkins`` (verify): exam check-in, 1:1 with
  liveness; no match opens a review case.
- ``POST /v1/apps/attendance/sessions/{id}/staff-checkins`` (identify): the alternative path.
- ``GET /v1/apps/attendance/sessions/{id}/report?format=json|csv|html``.
- ``GET /v1/apps/attendance/reviews``; ``POST /v1/apps/attendance/reviews/{id}`` (admin).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.apps.attendance import Window, report_csv, report_html
from facegate.apps.attendance_service import Attendance
from facegate.server import openapi
from facegate.server.apps.faces import read_face_call
from facegate.server.apps.state import AppsDep, AppsState
from facegate.server.deps import (
    AdminKey,
    EnrollKey,
    IdentifyKey,
    ServicesDep,
    VerifyKey,
    check_purpose,
)
from facegate.server.services import Services, actor_of

RowId = Annotated[int, Path(ge=1, le=2**31)]

router = APIRouter(prefix="/v1/apps/attendance", tags=["apps: attendance"])


def attendance(apps: AppsState, services: Services) -> Attendance:
    return apps.service(
        "attendance", Attendance, lambda: Attendance(services.gallery, apps.decisions)
    )


class ClassFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exam: bool = Field(False, description="An exam cohort: 1:1 check-in with liveness.")
    purpose: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
    description: str = Field("", max_length=2000)


class RosterFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64)
    birth_date: date | None = Field(None, description="YYYY-MM-DD; under 14: guardian first.")


class GuardianFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64)
    birth_date: date
    guardian_name: str = Field(min_length=1, max_length=255)
    guardian_relation: str = Field(min_length=1, max_length=64, description="e.g. mother")
    guardian_contact: str = Field(min_length=1, max_length=255)
    consent_text: str = Field(min_length=1, max_length=5000, description="The text shown.")


class SessionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=255)
    kind: Literal["class", "exam"] = "class"
    opens_at: AwareDatetime
    starts_at: AwareDatetime
    late_after: AwareDatetime
    closes_at: AwareDatetime
    analyses: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="None is offered; emotion, attention or behaviour analysis is refused.",
    )


class CheckinFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    liveness_session_id: str | None = Field(None, max_length=64)


class ExamFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64, description="Who the candidate says.")
    liveness_session_id: str | None = Field(None, max_length=64)


class StaffFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64)
    method: Literal["staff", "card"] = "staff"


class ReviewFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool = Field(description="True: it is the candidate; false: it is not.")
    note: str = Field("", max_length=2000)


@router.put("/classes/{name}")
async def put_class(
    name: str,
    fields: ClassFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """Create or update a class (or exam cohort) and its purpose."""
    att = attendance(apps, services)
    info = await run_in_threadpool(
        lambda: att.define_class(
            name,
            exam=fields.exam,
            purpose=fields.purpose,
            description=fields.description,
            actor=actor_of(request, key),
        )
    )
    return {"name": info.name, "purpose": info.purpose, "exam": fields.exam}


@router.get("/classes/{name}")
def get_class(
    name: str, request: Request, key: IdentifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """The class, its roster (ids, names) and sessions."""
    att = attendance(apps, services)
    info = att.store.get_class(name)
    check_purpose(request, key, "identify.class", info.purpose)
    roster = [{"subject_id": sid, "display_name": n} for sid, n, _, _ in att.store.roster(name)]
    sessions = [s.to_dict() for s in att.store.sessions(name)]
    return {"name": name, "purpose": info.purpose, "roster": roster, "sessions": sessions}


@router.post("/classes/{name}/roster", status_code=201)
async def add_to_roster(
    name: str,
    fields: RosterFields,
    request: Request,
    key: EnrollKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """Put a subject on the roster."""
    att = attendance(apps, services)
    check_purpose(request, key, "enroll.roster", att.store.get_class(name).purpose)
    await run_in_threadpool(
        att.add_to_roster, name, fields.subject_id, fields.birth_date, actor_of(request, key)
    )
    return {"class": name, "subject_id": fields.subject_id}


@router.post("/classes/{name}/guardians", status_code=201)
async def add_guardian(
    name: str,
    fields: GuardianFields,
    request: Request,
    key: EnrollKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """A guardian's consent for a minor, recorded with the guardian's details."""
    att = attendance(apps, services)
    check_purpose(request, key, "enroll.guardian", att.store.get_class(name).purpose)
    guardian = (fields.guardian_name, fields.guardian_relation, fields.guardian_contact)
    gid = await run_in_threadpool(
        att.grant_guardian_consent,
        name,
        fields.subject_id,
        fields.birth_date,
        guardian,
        fields.consent_text,
        actor_of(request, key),
    )
    return {"id": gid, "class": name, "subject_id": fields.subject_id}


@router.post("/classes/{name}/sessions", status_code=201)
async def open_session(
    name: str,
    fields: SessionFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """A session with its check-in window (emotion/attention analyses refused: 403)."""
    att = attendance(apps, services)
    window = Window(fields.opens_at, fields.starts_at, fields.late_after, fields.closes_at)
    session = await run_in_threadpool(
        lambda: att.open_session(
            name,
            fields.title,
            fields.kind,
            window,
            analyses=fields.analyses,
            actor=actor_of(request, key),
        )
    )
    return session.to_dict()


@router.get("/sessions/{session_id}")
def get_session(
    session_id: str, request: Request, key: IdentifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    att = attendance(apps, services)
    session = att.store.get_session(session_id)
    check_purpose(request, key, "identify.session", att.store.get_class(session.class_name).purpose)
    return session.to_dict()


def _purpose_of(att: Attendance, session_id: str) -> str:
    return att.store.get_class(att.store.get_session(session_id).class_name).purpose


@router.post(
    "/sessions/{session_id}/checkins",
    openapi_extra=openapi.body(CheckinFields, {"image": "The camera image."}, [("image",)]),
)
async def face_checkin(
    session_id: str, request: Request, key: IdentifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """Class check-in: every face of a roster member in the image counts."""
    att = attendance(apps, services)
    call = await read_face_call(
        request, key, CheckinFields, "identify.checkin", lambda: _purpose_of(att, session_id)
    )
    evidence = await call.liveness(services, call.fields.liveness_session_id)
    found = await call.run(
        services,
        lambda: att.check_in_face(session_id, call.image, actor=call.actor, liveness=evidence),
    )
    return {"checkins": [c.to_dict() for c in found]}


@router.post(
    "/sessions/{session_id}/exam-checkins",
    openapi_extra=openapi.body(ExamFields, {"image": "The candidate's live image."}, [("image",)]),
)
async def exam_checkin(
    session_id: str, request: Request, key: VerifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """Exam check-in: 1:1 against the registered photo, with a passed liveness session."""
    att = attendance(apps, services)
    call = await read_face_call(
        request, key, ExamFields, "verify.exam", lambda: _purpose_of(att, session_id)
    )
    evidence = await call.liveness(services, call.fields.liveness_session_id)
    found = await call.run(
        services,
        lambda: att.check_in_exam(
            session_id, call.fields.subject_id, call.image, liveness=evidence, actor=call.actor
        ),
    )
    return found.to_dict()


@router.post("/sessions/{session_id}/staff-checkins")
async def staff_checkin(
    session_id: str,
    fields: StaffFields,
    request: Request,
    key: IdentifyKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """The alternative path: a teacher or invigilator checks the person in."""
    att = attendance(apps, services)
    check_purpose(request, key, "identify.staff", _purpose_of(att, session_id))
    found = await run_in_threadpool(
        att.check_in_staff, session_id, fields.subject_id, fields.method, actor_of(request, key)
    )
    return found.to_dict()


@router.get("/sessions/{session_id}/report", response_model=None)
def report(
    session_id: str,
    request: Request,
    key: IdentifyKey,
    services: ServicesDep,
    apps: AppsDep,
    format: Literal["json", "csv", "html"] = Query("json"),
) -> Response | dict[str, Any]:
    """Present, late, absent (and under review) for everyone on the roster."""
    att = attendance(apps, services)
    check_purpose(request, key, "identify.report", _purpose_of(att, session_id))
    found = att.report(session_id)
    if format == "csv":
        return PlainTextResponse(report_csv(found), media_type="text/csv")
    if format == "html":
        return HTMLResponse(report_html(found))
    return found.to_dict()


@router.get("/reviews")
def reviews(
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
    status: Literal["open", "accepted", "rejected"] | None = Query("open"),
) -> dict[str, Any]:
    """Review cases (suspected impostors at exam check-ins)."""
    return {"reviews": [c.to_dict() for c in attendance(apps, services).reviews(status)]}


@router.post("/reviews/{case_id}")
async def decide_review(
    case_id: RowId,
    fields: ReviewFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """A person's decision on a review case."""
    att = attendance(apps, services)
    case = await run_in_threadpool(
        att.decide_review, case_id, fields.accept, fields.note, actor_of(request, key)
    )
    return case.to_dict()
