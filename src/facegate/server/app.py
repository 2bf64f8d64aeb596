"""The FastAPI app factory: ``create_app(settings)`` wires routers, errors, metrics, console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from facegate import __version__
from facegate.config import Settings
from facegate.server import docs, openapi, problems
from facegate.server.apps import access as apps_access
from facegate.server.apps import attendance as apps_attendance
from facegate.server.apps import common as apps_common
from facegate.server.apps import payment as apps_payment
from facegate.server.apps import registration as apps_registration
from facegate.server.deps import on_problem
from facegate.server.metrics import Metrics, ObservedApp
from facegate.server.routers import (
    audit,
    inference,
    liveness,
    pages,
    purposes,
    streams,
    subjects,
    system,
)
from facegate.server.services import EngineFactory, Services, default_engine_factory


def create_app(settings: Settings, engine_factory: EngineFactory | None = None) -> FastAPI:
    """The HTTP API under ``/v1``, OpenAPI at ``/docs``, the web console at ``/``.

    ``engine_factory`` builds one face engine per inference worker (default: the
    :class:`~facegate.pipeline.engine.FaceEngine` that ``settings.engine`` describes).
    """
    factory = engine_factory or default_engine_factory(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = Services.start(settings, factory, metrics)
        try:
            yield
        finally:
            apps = getattr(app.state, "apps", None)
            if apps is not None:
                apps.close()  # queued door webhooks are delivered before the gallery closes
            app.state.services.close()

    app = FastAPI(
        title="facegate", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.on_problem = on_problem
    problems.install(app)
    openapi.install(app)
    docs.install(app)
    for router in (inference.router, subjects.router, purposes.router, audit.router, system.router):
        app.include_router(router)
    app.include_router(streams.router)
    app.include_router(liveness.router)
    app.include_router(apps_common.router)
    app.include_router(apps_access.router)
    app.include_router(apps_attendance.router)
    app.include_router(apps_payment.router)
    app.include_router(apps_registration.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=system.STATIC), name="static")
    app.add_middleware(ObservedApp, metrics=metrics, max_body_bytes=settings.server.max_body_bytes)
    return app
