"""Dependencies as ``Annotated`` aliases: the services, and the caller's key for each scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from facegate.errors import AuthenticationError, PermissionDeniedError, PurposeNotFoundError
from facegate.server.keys import ApiKey
from facegate.server.services import Services


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(request: Request, services: ServicesDep) -> ApiKey:
    """The key in ``Authorization: Bearer <key>``; 401 when missing, unknown or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    key = services.keys.authenticate(token.strip())
    request.state.key = key
    return key


def require(scope: str) -> Callable[[ApiKey], ApiKey]:
    def check(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if not key.has_scope(scope):
            raise PermissionDeniedError(f"this API key lacks the {scope!r} scope")
        return key

    check.__name__ = f"require_{scope}"
    return check


AnyKey = Annotated[ApiKey, Depends(authenticate)]
DetectKey = Annotated[ApiKey, Depends(require("detect"))]
VerifyKey = Annotated[ApiKey, Depends(require("verify"))]
IdentifyKey = Annotated[ApiKey, Depends(require("identify"))]
EnrollKey = Annotated[ApiKey, Depends(require("enroll"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]


_SCOPE_OF = {"identify": "identify", "verify": "verify", "enroll": "enroll"}


def check_purpose(request: Request, key: ApiKey, operation: str, purpose: str) -> None:
    """403 unless ``key`` may act for ``purpose`` and the purpose's policy allows the scope
    the operation needs; marks the request so that a refusal is audited."""
    request.state.operation = (operation, purpose)
    if not key.allows_purpose(purpose):
        raise PermissionDeniedError(f"this API key is not allowed purpose {purpose!r}")
    services = get_services(request)
    try:
        policy = services.gallery.store.get_purpose(purpose)
    except PurposeNotFoundError:
        return
    scope = _SCOPE_OF.get(operation.split(".")[0], "enroll")
    if not policy.allows_scope(scope):
        raise PermissionDeniedError(
            f"purpose {purpose!r} may be used only with scopes {', '.join(policy.scopes)}"
        )


async def on_problem(request: Request, kind: str, status: int) -> None:
    """Count the error, and audit a refused biometric operation (operation marked, key known)
    unless the gallery already recorded the refusal."""
    services = get_services(request)
    services.metrics.errors.labels(kind).inc()
    key: ApiKey | None = getattr(request.state, "key", None)
    marked: Any = getattr(request.state, "operation", None)
    audited = getattr(request.state, "problem_audited", False)
    subject_id: str | None = request.path_params.get("subject_id")
    if key is not None and marked is not None and not audited:
        operation, purpose = marked
        ids = [subject_id] if subject_id else []
        decision = f"refused: {kind} ({status})"
        await run_in_threadpool(services.record, request, key, operation, purpose, ids, decision)
