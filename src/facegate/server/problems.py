"""RFC 9457 problem details: every facegate error as ``application/problem+json``.

Each error class has a stable ``type`` (``/problems/<slug>``, e.g. ``/problems/no-face``, which
the server also serves as a short description) and an HTTP status; ``detail`` is the error's
one-line message; ``instance`` is the request path; ``request_id`` matches the
``X-Request-ID`` response header. Errors with more to say add members: ``failures`` (enrolment),
``errors`` (field validation).
"""

from __future__ import annotations

import logging
import re
import traceback
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from facegate import errors as e

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")

STATUS: Final[dict[type[e.FacegateError], int]] = {
    e.AuthenticationError: 401,
    e.PermissionDeniedError: 403,
    e.ApiKeyNotFoundError: 404,
    e.SubjectNotFoundError: 404,
    e.PurposeNotFoundError: 404,
    e.ConsentRequiredError: 409,
    e.LivenessSessionNotFoundError: 404,
    e.LivenessSessionClosedError: 409,
    e.LivenessRequiredError: 409,
    e.LivenessError: 422,
    e.AttemptNotFoundError: 404,
    e.AttemptClosedError: 409,
    e.AccountNotFoundError: 404,
    e.AppRecordNotFoundError: 404,
    e.ProhibitedPracticeError: 403,
    e.ApplicationError: 422,
    e.StreamNotFoundError: 404,
    e.StreamLimitError: 429,
    e.WatchlistError: 403,
    e.VideoError: 422,
    e.AmbiguousSubjectError: 409,
    e.StoreError: 409,
    e.ImageTooLargeError: 413,
    e.PayloadTooLargeError: 413,
    e.UnsupportedImageError: 415,
    e.UnsupportedMediaError: 415,
    e.ImageError: 422,
    e.FaceError: 422,
    e.EnrollmentError: 422,
    e.ConfigError: 422,
    e.InvalidRequestError: 422,
    e.ServiceBusyError: 503,
    e.MasterKeyError: 500,
    e.StoreCorruptError: 500,
    e.ModelError: 500,
    e.FacegateError: 500,
}


def slug(cls: type[BaseException]) -> str:
    """``NoFaceError`` -> ``no-face``: the stable part of the problem type."""
    name = cls.__name__.removesuffix("Error")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def status_of(exc: e.FacegateError) -> int:
    return _status(type(exc))


def _status(kind: type[e.FacegateError]) -> int:
    for cls in kind.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def catalogue() -> dict[str, dict[str, Any]]:
    """Every problem type the API can return: slug -> title, status, description."""
    out: dict[str, dict[str, Any]] = {}
    for cls in vars(e).values():
        if isinstance(cls, type) and issubclass(cls, e.FacegateError):
            doc = (cls.__doc__ or "").strip().splitlines()[0]
            out[slug(cls)] = {"title": _title(cls), "status": _status(cls), "description": doc}
    return out


def _title(cls: type[BaseException]) -> str:
    return slug(cls).replace("-", " ").capitalize()


def problem(
    request: Request, status: int, kind: str, title: str, detail: str, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{kind}" if kind != "about:blank" else kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 503:
        headers["Retry-After"] = "1"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _extra(exc: e.FacegateError) -> dict[str, Any]:
    if isinstance(exc, e.EnrollmentError):
        return {"failures": [{"image": img, "error": str(err)} for img, err in exc.failures]}
    if isinstance(exc, e.InvalidRequestError):
        return {"errors": exc.errors}
    return {}


async def facegate_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, e.FacegateError):  # registered for FacegateError only
        raise exc
    status = status_of(exc)
    kind = slug(type(exc))
    if status >= 500:
        log.error("request %s failed: %s", getattr(request.state, "request_id", "-"), kind)
    request.state.problem_audited = getattr(exc, "audit_seq", None) is not None
    hook = getattr(request.app.state, "on_problem", None)
    if hook is not None:
        await hook(request, kind, status)
    return problem(request, status, kind, _title(type(exc)), str(exc), **_extra(exc))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errs = [{"loc": list(x.get("loc", ())), "msg": x.get("msg", "")} for x in exc.errors()]
    return await facegate_error(request, e.InvalidRequestError(_summary(errs), errs))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    phrase = HTTPStatus(exc.status_code).phrase
    answer = problem(request, exc.status_code, "about:blank", phrase, str(exc.detail))
    answer.headers.update(exc.headers or {})
    if exc.status_code == 405:
        answer.headers["Allow"] = ", ".join(_allowed(request))
    return answer


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    found = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found + (["HEAD"] if "GET" in found else [])


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """500: logs where it failed (exception type and stack), never the exception's message,
    which may quote request data (a consent text, a name) or SQL parameters."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unhandled error in request %s: %s (message withheld)\n%s",
        getattr(request.state, "request_id", "-"),
        type(exc).__qualname__,
        stack,
    )
    return problem(request, 500, "internal", "Internal error", "an unexpected error occurred")


def _summary(errs: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(p) for p in x['loc'])}: {x['msg']}" for x in errs[:3]]
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.FacegateError, facegate_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
