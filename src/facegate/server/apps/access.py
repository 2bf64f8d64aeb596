"""``/v1/apps/access/...``: sites, schedules, cards and PINs, visitor passes, door decisions.

- ``PUT /v1/apps/access/sites/{site}`` (admin): create or update a site; with a
  ``webhook_url`` the answer carries the new ``webhook_secret`` once.
- ``GET /v1/apps/access/sites/{site}``: the site, its schedule windows.
- ``POST|DELETE /v1/apps/access/sites/{site}/schedules[/{id}]`` (admin): windows.
- ``POST /v1/apps/access/sites/{site}/credentials`` (admin): a card or PIN for a subject;
  ``DELETE .../credentials/{id}`` withdraws it.
- ``POST /v1/apps/access/sites/{site}/visitors`` (enrol): a visitor pass (photo, hours, host).
- ``POST /v1/apps/access/sites/{site}/passages`` (identify): a camera image -> door decision.
- ``POST /v1/apps/access/sites/{site}/passages/credential`` (identify): a card or PIN -> door
  decision (the alternative path; same schedule, same record, no penalty).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.apps.access_service import MAX_PASS_HOURS, AccessControl
from facegate.errors import AppRecordNotFoundError
from facegate.server import openapi
from facegate.server.apps.faces import read_face_call
from facegate.server.apps.state import AppsDep, AppsState
from facegate.server.deps import AdminKey, EnrollKey, IdentifyKey, ServicesDep, check_purpose
from facegate.server.services import Services, actor_of

RowId = Annotated[int, Path(ge=1, le=2**31)]

router = APIRouter(prefix="/v1/apps/access", tags=["apps: access"])

SITE = r"^[a-z0-9][a-z0-9_.-]{0,47}$"


def control(apps: AppsState, services: Services) -> AccessControl:
    return apps.service(
        "access", AccessControl, lambda: AccessControl(services.gallery, apps.decisions)
    )


class SiteFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$", description="Default: access:<site>."
    )
    description: str = Field("", max_length=2000)
    timezone: str = Field("UTC", pattern=r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")
    webhook_url: str | None = Field(
        None, max_length=2000, pattern=r"^https?://", description="The door controller's URL."
    )


class WindowFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: str = Field(min_length=1, max_length=64, description="e.g. 'mon-fri 07:00-19:00'")
    subject_id: str | None = Field(None, max_length=64, description="Default: everyone.")


class CredentialFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=64)
    kind: Literal["card", "pin"]
    value: str = Field(min_length=4, max_length=128)


class CredentialPassage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["card", "pin"]
    value: str = Field(min_length=1, max_length=128)


class VisitorFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str = Field(min_length=1, max_length=255)
    hours: float = Field(gt=0, le=MAX_PASS_HOURS, description="How long the pass is valid.")
    host: str = Field(min_length=1, max_length=255, description="Who invited the visitor.")
    consent_text: str = Field(min_length=1, max_length=5000, description="The text shown.")


class PassageFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    liveness_session_id: str | None = Field(None, max_length=64)


@router.put("/sites/{site}")
async def put_site(
    site: str,
    fields: SiteFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """Create or update a site; a webhook URL gets a new signing secret (shown once)."""
    ctl = control(apps, services)
    saved, secret = await run_in_threadpool(
        lambda: ctl.define_site(
            site,
            purpose=fields.purpose,
            description=fields.description,
            timezone=fields.timezone,
            webhook_url=fields.webhook_url,
            actor=actor_of(request, key),
        )
    )
    return {**saved.to_dict(), "webhook_secret": secret}


@router.get("/sites")
def list_sites(key: AdminKey, services: ServicesDep, apps: AppsDep) -> dict[str, Any]:
    """Every site."""
    return {"sites": [s.to_dict() for s in control(apps, services).store.list_sites()]}


@router.get("/sites/{site}")
def get_site(
    site: str, request: Request, key: IdentifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """The site and its schedule windows."""
    ctl = control(apps, services)
    found = ctl.store.get_site(site)
    check_purpose(request, key, "identify.site", found.purpose)
    windows = [
        {"id": i, "window": w.describe(), "subject_id": w.subject_id}
        for i, w in ctl.store.windows(site)
    ]
    return {**found.to_dict(), "schedules": windows}


@router.post("/sites/{site}/schedules", status_code=201)
async def add_schedule(
    site: str,
    fields: WindowFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """Add a window (for one subject, or everyone at the site)."""
    ctl = control(apps, services)
    window_id = await run_in_threadpool(
        ctl.add_window, site, fields.window, fields.subject_id, actor_of(request, key)
    )
    return {"id": window_id, "site": site}


@router.delete("/sites/{site}/schedules/{window_id}", status_code=204)
def remove_schedule(
    site: str, window_id: RowId, key: AdminKey, services: ServicesDep, apps: AppsDep
) -> None:
    """Remove a window."""
    if not control(apps, services).store.remove_window(site, window_id):
        raise AppRecordNotFoundError(f"no schedule {window_id} at site {site!r}")


@router.post("/sites/{site}/credentials", status_code=201)
async def add_credential(
    site: str,
    fields: CredentialFields,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """Issue a card or PIN (stored as a keyed hash only)."""
    ctl = control(apps, services)
    cred = await run_in_threadpool(
        ctl.add_credential,
        site,
        fields.subject_id,
        fields.kind,
        fields.value,
        actor_of(request, key),
    )
    return {"id": cred, "site": site, "subject_id": fields.subject_id, "kind": fields.kind}


@router.delete("/sites/{site}/credentials/{credential_id}", status_code=204)
async def revoke_credential(
    site: str,
    credential_id: RowId,
    request: Request,
    key: AdminKey,
    services: ServicesDep,
    apps: AppsDep,
) -> None:
    """Withdraw a card or PIN (lost, or its holder moved out)."""
    ctl = control(apps, services)
    await run_in_threadpool(ctl.revoke_credential, site, credential_id, actor_of(request, key))


@router.post(
    "/sites/{site}/visitors",
    status_code=201,
    openapi_extra=openapi.body(VisitorFields, {"image": "The visitor's photo."}, [("image",)]),
)
async def add_visitor(
    site: str, request: Request, key: EnrollKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """A visitor pass: a consent for the site that expires after ``hours``, and the photo."""
    ctl = control(apps, services)
    call = await read_face_call(
        request, key, VisitorFields, "enroll.visitor", lambda: ctl.store.get_site(site).purpose
    )
    fields = call.fields
    made = await call.run(
        services,
        lambda: ctl.issue_visitor_pass(
            site,
            fields.display_name,
            [call.image],
            fields.hours,
            host=fields.host,
            consent_text=fields.consent_text,
            actor=call.actor,
        ),
    )
    return {
        "site": site,
        "subject_id": made.subject.id,
        "expires_at": made.expires_at.isoformat(),
        "templates": made.templates,
    }


@router.post(
    "/sites/{site}/passages",
    openapi_extra=openapi.body(PassageFields, {"image": "The camera image."}, [("image",)]),
)
async def face_passage(
    site: str, request: Request, key: IdentifyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """The door decision for one camera image (open, or closed with the reason and alerts)."""
    ctl = control(apps, services)
    call = await read_face_call(
        request, key, PassageFields, "identify.access", lambda: ctl.store.get_site(site).purpose
    )
    evidence = await call.liveness(services, call.fields.liveness_session_id)
    decision = await call.run(
        services, lambda: ctl.check_face(site, call.image, actor=call.actor, liveness=evidence)
    )
    return decision.to_dict()


@router.post("/sites/{site}/passages/credential")
async def credential_passage(
    site: str,
    fields: CredentialPassage,
    request: Request,
    key: IdentifyKey,
    services: ServicesDep,
    apps: AppsDep,
) -> dict[str, Any]:
    """The door decision for a card or PIN: the alternative path to the face."""
    ctl = control(apps, services)
    check_purpose(request, key, "identify.access", ctl.store.get_site(site).purpose)
    decision = await run_in_threadpool(
        lambda: ctl.check_credential(site, fields.kind, fields.value, actor=actor_of(request, key))
    )
    return decision.to_dict()
