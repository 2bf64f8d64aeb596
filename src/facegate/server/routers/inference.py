"""``POST /v1/detect``, ``/v1/verify`` and ``/v1/identify``: face inference on the worker pool."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from facegate.errors import PermissionDeniedError
from facegate.gallery.service import MAX_TOP_K
from facegate.server import openapi
from facegate.server.deps import DetectKey, IdentifyKey, ServicesDep, VerifyKey, check_purpose
from facegate.server.payload import read_payload
from facegate.server.services import actor_of
from facegate.server.workers import ServerEngine

router = APIRouter(prefix="/v1", tags=["inference"])

PurposeField = Field(min_length=1, max_length=64, description="The purpose of the request.")


class DetectFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = PurposeField
    operating_point: str | None = Field(None, description="e.g. fmr=1e-4 (the default)")
    subject_id: str | None = Field(
        None, description="Compare `image` with this enrolled subject instead of image_a/image_b."
    )
    liveness_session_id: str | None = Field(
        None, max_length=64, description="A passed liveness session (needed by some purposes)."
    )


class IdentifyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = PurposeField
    top_k: int = Field(
        5, ge=1, le=MAX_TOP_K, description="Candidates (at or above the operating point) per face."
    )
    operating_point: str | None = Field(None, description="e.g. fpir=1e-2 (the default)")
    below_threshold: bool = Field(
        False, description="Admin only, audited: also list candidates below the operating point."
    )
    liveness_session_id: str | None = Field(
        None, max_length=64, description="A passed liveness session (needed by some purposes)."
    )


@router.post(
    "/detect", openapi_extra=openapi.body(DetectFields, {"image": "The photo."}, [("image",)])
)
async def detect(request: Request, key: DetectKey, services: ServicesDep) -> dict[str, Any]:
    """Faces in the image: box ``[x1, y1, x2, y2]`` in pixels, score and 5 landmarks each."""
    request.state.operation = ("detect", None)
    payload = await read_payload(request, ("image",))
    payload.model(DetectFields)
    image = payload.image("image")

    def run(engine: ServerEngine) -> dict[str, Any]:
        return engine.detect(image).to_dict()

    result = await services.pool.run(run)
    services.metrics.faces.labels("detect").inc(len(result["faces"]))
    decision = f"{len(result['faces'])} faces"
    await run_in_threadpool(services.record, request, key, "detect", None, [], decision)
    return result


_VERIFY_IMAGES = {
    "image_a": "First photo.",
    "image_b": "Second photo.",
    "image": "The probe photo, with subject_id.",
}


_VERIFY_NEEDS = [("image_a", "image_b"), ("image", "subject_id")]


@router.post("/verify", openapi_extra=openapi.body(VerifyFields, _VERIFY_IMAGES, _VERIFY_NEEDS))
async def verify(request: Request, key: VerifyKey, services: ServicesDep) -> dict[str, Any]:
    """1:1: are two photos (or a photo and an enrolled subject) the same person?"""
    payload = await read_payload(request, tuple(_VERIFY_IMAGES))
    fields = payload.model(VerifyFields)
    check_purpose(request, key, "verify", fields.purpose)
    point = fields.operating_point
    actor = actor_of(request, key)
    evidence = await run_in_threadpool(
        services.liveness_evidence, key, fields.purpose, fields.liveness_session_id
    )
    if fields.subject_id is not None:
        image, subject_id = payload.image("image"), fields.subject_id

        def against_subject(_: ServerEngine) -> dict[str, Any]:
            found = services.gallery.verify(
                image,
                subject_id,
                fields.purpose,
                operating_point=point,
                actor=actor,
                liveness=evidence,
            )
            return found.to_dict()

        result = await services.pool.run(against_subject)
        services.metrics.faces.labels("verify").inc(1)
        return {**result, "purpose": fields.purpose}
    a, b = payload.image("image_a"), payload.image("image_b")

    def pair(engine: ServerEngine) -> dict[str, Any]:
        found = engine.verify(a, b, operating_point=point)
        if evidence is not None:
            probe = found.face_a.embedding
            evidence.check(probe.vector if probe is not None else None)
        return found.to_dict()

    result = await services.pool.run(pair)
    services.metrics.faces.labels("verify").inc(2)
    decision = f"{'match' if result['match'] else 'no match'} at {result['operating_point']} (pair)"
    decision += f"; {evidence.describe()}" if evidence is not None else ""
    await run_in_threadpool(
        services.record, request, key, "verify", fields.purpose, [], decision, result["similarity"]
    )
    return {**result, "purpose": fields.purpose}


@router.post(
    "/identify",
    openapi_extra=openapi.body(IdentifyFields, {"image": "The photo."}, [("image",)]),
)
async def identify(request: Request, key: IdentifyKey, services: ServicesDep) -> dict[str, Any]:
    """1:N open-set: who is each face, among subjects consented for the purpose?"""
    payload = await read_payload(request, ("image",))
    fields = payload.model(IdentifyFields)
    check_purpose(request, key, "identify", fields.purpose)
    if fields.below_threshold and not key.is_admin:
        raise PermissionDeniedError("below_threshold needs an admin key")
    image = payload.image("image")
    actor = actor_of(request, key)
    evidence = await run_in_threadpool(
        services.liveness_evidence, key, fields.purpose, fields.liveness_session_id
    )

    def run(_: ServerEngine) -> dict[str, Any]:
        found = services.gallery.identify(
            image,
            fields.purpose,
            fields.top_k,
            operating_point=fields.operating_point,
            below_threshold=fields.below_threshold,
            actor=actor,
            liveness=evidence,
        )
        return found.to_dict()

    result = await services.pool.run(run)
    services.metrics.faces.labels("identify").inc(len(result["faces"]))
    return result
