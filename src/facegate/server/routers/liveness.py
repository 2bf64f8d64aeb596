"""``/v1/liveness/sessions``: active liveness sessions (challenges, frames, verdict).

1. ``POST /v1/liveness/sessions``: a new session with its challenges, nonce and deadline.
2. ``POST /v1/liveness/sessions/{id}/frames``: one camera frame (``image``) with the session's
   ``nonce`` and ``timestamp_ms`` (capture time since the session began, increasing); the
   answer says what to prompt now, and the verdict once there is one.
3. ``GET /v1/liveness/sessions/{id}``: the verdict.

A passed session's id is then given as ``liveness_session_id`` to verify, identify or enrol
(once); purposes whose policy requires liveness refuse those calls without one (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from facegate.imageio import decode
from facegate.liveness.observe import observe_pixels
from facegate.server import openapi
from facegate.server.deps import AnyKey, ServicesDep
from facegate.server.keys import ApiKey
from facegate.server.liveness_sessions import session_json
from facegate.server.payload import read_payload
from facegate.server.services import Services
from facegate.server.workers import ServerEngine

router = APIRouter(prefix="/v1/liveness", tags=["liveness"])


class FrameFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nonce: str = Field(min_length=1, max_length=200, description="The session's nonce.")
    timestamp_ms: float = Field(
        ge=0, le=3_600_000, description="Capture time in ms since the session began."
    )


@router.post("/sessions", status_code=201)
def create_session(key: AnyKey, services: ServicesDep) -> dict[str, Any]:
    """A new session: its challenges (in order), nonce and deadline; prompts come with each
    frame's answer (a random "hold still" precedes each)."""
    sessions = services.liveness
    sid, entry = sessions.create(key.id)
    verdict = entry.session.verdict()
    return {
        **session_json(sid, entry, verdict, sessions.elapsed_ms(entry)),
        "nonce": entry.session.nonce,
    }


@router.post(
    "/sessions/{session_id}/frames",
    openapi_extra=openapi.body(FrameFields, {"image": "One camera frame."}),
)
async def post_frame(
    session_id: str, request: Request, key: AnyKey, services: ServicesDep
) -> dict[str, Any]:
    """Take one frame of the session; answers the current prompt and status."""
    sessions = services.liveness
    entry = sessions.get(session_id, key.id)
    payload = await read_payload(request, ("image",))
    fields = payload.model(FrameFields)
    image = payload.image("image")
    limits = services.settings.image
    landmarker = sessions.landmarker68()

    def run(engine: ServerEngine) -> Any:
        pixels = decode(image, limits)
        faces = observe_pixels(engine, pixels, landmarker)
        return faces, sessions.pad_score(pixels, faces)

    faces, pad_score = await services.pool.run(run)
    verdict = sessions.submit(
        session_id, key.id, fields.nonce, fields.timestamp_ms, faces, pad_score
    )
    _audit(request, key, services, session_id)
    return {
        **session_json(session_id, entry, verdict, sessions.elapsed_ms(entry)),
        "faces": len(faces),
    }


@router.get("/sessions/{session_id}")
def get_session(
    session_id: str, request: Request, key: AnyKey, services: ServicesDep
) -> dict[str, Any]:
    """The session's status and, once decided, its verdict and reason."""
    sessions = services.liveness
    entry = sessions.get(session_id, key.id)
    verdict = sessions.verdict(session_id, key.id)
    _audit(request, key, services, session_id)
    return session_json(session_id, entry, verdict, sessions.elapsed_ms(entry))


def _audit(request: Request, key: ApiKey, services: Services, session_id: str) -> None:
    """Append the session's audit record once it is decided (passed, failed, expired)."""
    sessions = services.liveness
    text = sessions.audit_text(session_id, sessions.get(session_id, key.id))
    if text is not None:
        services.record(request, key, "liveness", None, [], text)
