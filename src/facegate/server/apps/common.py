"""``/v1/apps/notices/...``, ``/v1/apps/decisions`` and ``/v1/apps/{app}/attempts/{id}``.

Any key allowed a purpose reads its notice (kiosk pages show it before the camera starts) and
the printable sign; an admin key bound to the purpose writes the notice. The alternative path
of any application's attempt is one call: ``POST /v1/apps/{app}/attempts/{id}/alternative``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.apps.attempts import Attempts, AttemptState
from facegate.apps.notices import NoticeText, require_notice, set_notice, sign_html, sign_text
from facegate.errors import PermissionDeniedError
from facegate.server import openapi
from facegate.server.apps.state import AppsDep
from facegate.server.deps import AdminKey, AnyKey, ServicesDep
from facegate.server.keys import ApiKey
from facegate.server.payload import read_payload
from facegate.server.services import actor_of

router = APIRouter(prefix="/v1/apps", tags=["apps"])

ALTERNATIVES = ("pin", "qr", "card", "staff", "document", "other")
"""Non-face methods an attempt can record as the path chosen."""


def bound(key: ApiKey, purpose: str) -> None:
    """403 unless ``key`` may act for ``purpose`` (admin keys too)."""
    if not key.allows_purpose(purpose):
        raise PermissionDeniedError(f"this API key is not allowed purpose {purpose!r}")


class NoticeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    processor: str = Field(min_length=1, max_length=2000, description="Who processes the data.")
    contact: str = Field(min_length=1, max_length=2000, description="How to reach them.")
    alternative: str = Field(
        min_length=1, max_length=2000, description="How to refuse: the non-face path offered."
    )


class AlternativeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["pin", "qr", "card", "staff", "document", "other"] = Field(
        description="The non-face path the person chose."
    )


@router.get("/notices/{purpose}")
def notice(purpose: str, key: AnyKey, services: ServicesDep) -> dict[str, Any]:
    """The notice of the purpose: what for, processor, legal basis, retention, how to refuse,
    contact (409 when the operator has not written one: no notice, no face processing)."""
    bound(key, purpose)
    return require_notice(services.gallery, purpose).to_dict()


@router.put("/notices/{purpose}", openapi_extra=openapi.body(NoticeFields))
async def put_notice(
    purpose: str, request: Request, key: AdminKey, services: ServicesDep
) -> dict[str, Any]:
    """Write the purpose's notice (processor, contact, how to refuse); audited."""
    request.state.operation = ("notice.define", purpose)
    bound(key, purpose)
    fields = (await read_payload(request, ())).model(NoticeFields)
    text = NoticeText(fields.processor, fields.contact, fields.alternative)
    saved = await run_in_threadpool(
        set_notice, services.gallery, purpose, text, actor_of(request, key)
    )
    return saved.to_dict()


@router.get("/notices/{purpose}/sign", response_model=None)
def sign(
    purpose: str,
    key: AnyKey,
    services: ServicesDep,
    format: Literal["html", "text"] = Query("html", description="html (printable) or text"),
) -> Response:
    """The sign a public place shows where faces are processed for this purpose."""
    bound(key, purpose)
    found = require_notice(services.gallery, purpose)
    if format == "text":
        return PlainTextResponse(sign_text(found))
    return HTMLResponse(sign_html(found))


@router.get("/decisions")
def decisions(
    key: AdminKey,
    apps: AppsDep,
    app: str | None = Query(None, max_length=16),
    purpose: str | None = Query(None, max_length=64),
    outcome: str | None = Query(None, max_length=16),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The newest application decisions (subjects named by keyed pseudonym only)."""
    if purpose is not None:
        bound(key, purpose)
    found = apps.decisions.records(app, purpose=purpose, outcome=outcome, limit=limit)
    visible = [d for d in found if d.purpose is None or key.allows_purpose(d.purpose)]
    return {"decisions": [d.to_dict() for d in visible]}


@router.get("/{app}/attempts/{attempt_id}")
def attempt(app: str, attempt_id: str, key: AnyKey, apps: AppsDep) -> dict[str, Any]:
    """An attempt: its state, whether the face path is still offered, the alternatives."""
    return apps.attempts.get(attempt_id, key.id, app).to_dict(ALTERNATIVES)


@router.post("/{app}/attempts/{attempt_id}/alternative")
async def alternative(
    app: str, attempt_id: str, request: Request, key: AnyKey, apps: AppsDep
) -> dict[str, Any]:
    """The person chose the non-face path: recorded (naming nobody), no penalty, and the face
    path is not offered again for this attempt."""
    found = apps.attempts.get(attempt_id, key.id, app)
    fields = (await read_payload(request, ())).model(AlternativeFields)
    with found.lock:
        Attempts.require(found, AttemptState.OPEN, AttemptState.STEP_UP)
        found.state = AttemptState.ALTERNATIVE
    record = await run_in_threadpool(
        apps.decisions.alternative,
        app,
        found.purpose,
        fields.method,
        actor_of(request, key),
        found.id,
    )
    found.decision_id, found.outcome = record.id, "alternative"
    return {**found.to_dict(ALTERNATIVES), "method": fields.method}
