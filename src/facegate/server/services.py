"""What the app holds while it runs: gallery, keys, request log, inference pool, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import Request

from facegate.config import Settings
from facegate.server.keys import ApiKey, KeyStore
from facegate.server.metrics import Metrics
from facegate.server.requestlog import LogEntry, RequestLog
from facegate.server.workers import InferencePool, ServerEngine
from facegate.store.gallery import Gallery
from facegate.store.sql import DB_FILE_NAME, sqlite_engine

log = logging.getLogger(__name__)

EngineFactory = Callable[[], ServerEngine]


def default_engine_factory(settings: Settings) -> EngineFactory:
    def build() -> ServerEngine:
        from facegate.pipeline.engine import FaceEngine

        return FaceEngine(settings.engine, settings.image, home=settings.home)

    return build


@dataclass(slots=True)
class Services:
    settings: Settings
    gallery: Gallery
    keys: KeyStore
    requests: RequestLog
    pool: InferencePool
    metrics: Metrics

    @classmethod
    def start(cls, settings: Settings, factory: EngineFactory, metrics: Metrics) -> Services:
        """Open the gallery and key store in the data dir and start the inference workers."""
        cfg = settings.server
        pool = InferencePool(factory, cfg.workers, cfg.queue_size, cfg.queue_timeout_s)
        secret = settings.master_key.get_secret_value() if settings.master_key else None
        gallery = Gallery.open(
            settings.home,
            engine=pool.analyzer(),
            config=settings.gallery,
            limits=settings.image,
            master_key=secret,
        )
        keys = KeyStore.open(settings.home)
        requests = RequestLog(sqlite_engine(settings.home / DB_FILE_NAME))
        if not any(k.revoked_at is None for k in keys.list()):
            log.warning("no active API key: create one with 'facegate keys create'")
        metrics.workers.set(cfg.workers)
        pool.start()
        return cls(settings, gallery, keys, requests, pool, metrics)

    def close(self) -> None:
        self.pool.close()
        self.gallery.close()
        self.keys.close()

    def record(
        self,
        request: Request,
        key: ApiKey,
        operation: str,
        purpose: str | None,
        subject_ids: Sequence[str],
        decision: str,
        status: int = 200,
    ) -> None:
        """Add a request log row (ids only) and remember the operation for error logging."""
        request_id = str(getattr(request.state, "request_id", ""))
        entry = LogEntry(request_id, key.id, operation, purpose, subject_ids, decision, status)
        self.requests.record(entry)
