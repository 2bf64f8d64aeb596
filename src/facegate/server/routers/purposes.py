"""``GET|PUT|DELETE /v1/purposes[/{name}]``: purposes and their policies.

Any key lists the purposes it may use; an admin key defines a purpose's policy (legal basis,
retention, images, non-face alternative, scopes) or erases everything held for a purpose.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from facegate.errors import PermissionDeniedError
from facegate.privacy.purposes import PurposeConfig, purpose_dict
from facegate.server import openapi
from facegate.server.deps import AdminKey, AnyKey, ServicesDep
from facegate.server.keys import ApiKey
from facegate.server.payload import read_payload
from facegate.server.services import actor_of

router = APIRouter(prefix="/v1/purposes", tags=["purposes"])


def _bound(key: ApiKey, purpose: str) -> None:
    """Purposes bind admin keys too: 403 unless ``key`` may act for ``purpose``."""
    if not key.allows_purpose(purpose):
        raise PermissionDeniedError(f"this API key is not allowed purpose {purpose!r}")


@router.get("")
def purposes(key: AnyKey, services: ServicesDep) -> dict[str, Any]:
    """Purposes in the store that this key may act for, with their policies."""
    found = services.gallery.purposes()
    return {"purposes": [purpose_dict(p) for p in found if key.allows_purpose(p.name)]}


@router.put("/{name}", openapi_extra=openapi.body(PurposeConfig, exclude=("name",)))
async def define_purpose(
    name: str, request: Request, key: AdminKey, services: ServicesDep
) -> dict[str, Any]:
    """Create or update a purpose's policy (the body is one purpose, as in a purposes file)."""
    request.state.operation = ("purpose.define", name)
    _bound(key, name)
    payload = await read_payload(request, ())
    payload.fields["name"] = name
    config = payload.model(PurposeConfig)
    actor = actor_of(request, key)
    saved = await run_in_threadpool(services.gallery.define_purpose, config.to_purpose(), actor)
    return purpose_dict(saved)


@router.delete("/{name}")
def erase_purpose(name: str, request: Request, key: AdminKey, services: ServicesDep) -> Any:
    """Erase everything held for the purpose: its templates, consents and definition;
    subjects left with nothing are erased whole (crypto-shredding)."""
    request.state.operation = ("erase.purpose", name)
    _bound(key, name)
    done = services.gallery.erase_purpose(name, actor=actor_of(request, key))
    return {
        "purpose": done.purpose,
        "templates": done.templates,
        "consents": done.consents,
        "erased_subjects": list(done.erased_subjects),
    }
