"""Health, readiness, metrics, problem types, the caller's key and purposes, and the console."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from facegate import __version__
from facegate.server import problems
from facegate.server.deps import AnyKey, ServicesDep

router = APIRouter(tags=["system"])

STATIC = Path(str(resources.files("facegate.server") / "static"))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (answered on the event loop: never waits for a worker or a thread)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """Ready when every inference worker has loaded its models; until then (or if loading
    failed) a 503 problem+json whose ``state`` is ``loading`` or ``failed``."""
    pool = services.pool
    if pool.ready and pool.failure is None:
        return JSONResponse({"status": "ready", "workers": pool.workers})
    if pool.failure is not None:
        detail, state = f"the models failed to load: {pool.failure}", "failed"
    else:
        detail, state = "the inference workers are still loading their models", "loading"
    return problems.problem(
        request, 503, "about:blank", "Not ready", detail, state=state, workers=pool.workers
    )


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format."""
    m = services.metrics
    m.waiting.set(services.pool.waiting)
    m.admitted.set(services.pool.admitted)
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/problems/{kind}")
def problem_type(kind: str) -> dict[str, Any]:
    """What a problem ``type`` means."""
    known = problems.catalogue()
    if kind not in known:
        raise HTTPException(404, f"no problem type {kind!r}")
    return {"type": f"/problems/{kind}", **known[kind]}


@router.get("/v1/me", tags=["keys"])
def me(key: AnyKey) -> dict[str, Any]:
    """The calling key: id, scopes and purposes (never its secret)."""
    return key.to_dict()


CONSOLE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/", include_in_schema=False)
def console() -> FileResponse:
    """The web console (static HTML, CSS and JavaScript; nothing loaded from elsewhere)."""
    return FileResponse(STATIC / "index.html", headers=CONSOLE_HEADERS)
