"""What an application route that takes a camera image does first, in one order.

An application's face route (a door passage, a class or exam check-in, a visitor's photo)
reads its body, validates the fields, finds the purpose of the site or class it names, checks
the caller's key against that purpose (:func:`facegate.server.deps.check_purpose`, so that a
refusal is audited), and only then takes the image. :func:`read_face_call` does exactly that
and hands back a :class:`FaceCall`; :meth:`FaceCall.liveness` spends the liveness session the
call names (in a thread: it reads the store) and :meth:`FaceCall.run` runs the face work on the
inference pool. The order of the checks, and so which error a bad request gets, is the same
on every route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor
from facegate.server.deps import check_purpose
from facegate.server.keys import ApiKey
from facegate.server.payload import read_payload
from facegate.server.services import Services, actor_of

F = TypeVar("F", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FaceCall(Generic[F]):
    """A face route's checked request: its fields, its one image, purpose, key and actor."""

    fields: F
    image: bytes
    purpose: str
    key: ApiKey
    actor: Actor

    async def liveness(self, services: Services, session_id: str | None) -> LivenessEvidence | None:
        """Spend the key's passed liveness session ``session_id`` for the purpose (409 when
        the purpose requires liveness and none came)."""
        return await run_in_threadpool(
            services.liveness_evidence, self.key, self.purpose, session_id
        )

    async def run(self, services: Services, work: Callable[[], T]) -> T:
        """``work`` on the inference pool (the face work of the route)."""
        return await services.pool.run(lambda _engine: work())


async def read_face_call(
    request: Request,
    key: ApiKey,
    model: type[F],
    operation: str,
    purpose_of: Callable[[], str],
) -> FaceCall[F]:
    """Read a multipart or JSON body with one ``image``: the fields (``model``), then the
    purpose (``purpose_of``: 404 when the site or class is unknown), the key's right to act
    for it as ``operation`` (403, audited), then the image (400 when missing)."""
    payload = await read_payload(request, ("image",))
    fields = payload.model(model)
    purpose = purpose_of()
    check_purpose(request, key, operation, purpose)
    return FaceCall(fields, payload.image("image"), purpose, key, actor_of(request, key))
