"""``/v1/apps/registration``: a live selfie against the portrait on a photographed ID document.

1. ``POST /v1/apps/registration/attempts``: an attempt; the answer carries the purpose's
   notice and the alternatives (``staff``: a person checks the document at the desk).
2. ``POST .../attempts/{id}/check``: ``selfie`` and ``document`` images with a passed
   ``liveness_session_id`` (and optionally the ``subject_id`` being registered): accept or
   reject at the cross-capture operating point; the record keeps image hashes, not images.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.apps.notices import require_notice
from facegate.apps.registration import Registrar
from facegate.server import openapi
from facegate.server.apps.state import AppsDep, AppsState
from facegate.server.deps import AnyKey, ServicesDep, check_purpose
from facegate.server.payload import read_payload
from facegate.server.services import Services, actor_of
from facegate.server.workers import ServerEngine

router = APIRouter(prefix="/v1/apps/registration", tags=["apps"])
APP = "registration"
ALTERNATIVES = ("staff",)
_IMAGES = {"selfie": "The live selfie.", "document": "The photographed ID document."}


def registrar_of(apps: AppsState, services: Services) -> Registrar:
    settings = services.settings
    return apps.service(
        APP, Registrar, lambda: Registrar(services.gallery, settings.registration, settings.image)
    )


class OpenFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    desk: str = Field("", max_length=64, description="The desk or kiosk's own name.")


class CheckFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    liveness_session_id: str | None = Field(None, max_length=64)
    subject_id: str | None = Field(None, max_length=64, description="The subject registered.")


@router.post("/attempts", status_code=201, openapi_extra=openapi.body(OpenFields))
async def open_attempt(
    request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """A registration attempt: the notice, the operating point, the alternatives."""
    registrar = registrar_of(apps, services)
    check_purpose(request, key, "verify", registrar.purpose)
    fields = (await read_payload(request, ())).model(OpenFields)
    notice = await run_in_threadpool(require_notice, services.gallery, registrar.purpose)
    point = registrar.point()
    data = {"desk": fields.desk, "operating_point": point.name}
    attempt = apps.attempts.open(APP, registrar.purpose, key.id, data)
    return {**attempt.to_dict(ALTERNATIVES), "notice": notice.to_dict()}


@router.post(
    "/attempts/{attempt_id}/check",
    openapi_extra=openapi.body(CheckFields, _IMAGES, [("selfie", "document")]),
)
async def check(
    attempt_id: str, request: Request, key: AnyKey, services: ServicesDep, apps: AppsDep
) -> dict[str, Any]:
    """Compare the selfie (liveness required) with the portrait found on the document."""
    registrar = registrar_of(apps, services)
    attempt = apps.attempts.get(attempt_id, key.id, APP)
    payload = await read_payload(request, tuple(_IMAGES))
    fields = payload.model(CheckFields)
    check_purpose(request, key, "verify", registrar.purpose)
    request.state.operation = ("app.registration", registrar.purpose)
    selfie, document = payload.image("selfie"), payload.image("document")
    actor = actor_of(request, key)

    def run(_: ServerEngine) -> Any:
        return registrar.check(
            selfie, document, evidence,
            subject_id=fields.subject_id, attempt_id=attempt.id, actor=actor,
        )  # fmt: skip

    with attempt.deciding():
        evidence = await run_in_threadpool(
            services.liveness_evidence, key, registrar.purpose, fields.liveness_session_id
        )
        done = await services.pool.run(run)
    request.state.problem_audited = True
    attempt.outcome, attempt.decision_id = done.outcome, done.record.id
    return {**attempt.to_dict(ALTERNATIVES), **done.to_dict()}
