"""What the app holds while it runs: gallery, keys, audit chain, inference pool, sweeper."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request

from facegate.config import Settings
from facegate.errors import FacegateError, PurposeNotFoundError
from facegate.gallery.service import Gallery
from facegate.liveness.evidence import LivenessEvidence
from facegate.liveness.evidence import require as require_liveness
from facegate.privacy.audit import Actor, AuditEvent
from facegate.privacy.purposes import liveness_required, load_purposes
from facegate.server.keys import ApiKey, KeyStore
from facegate.server.liveness_sessions import LivenessSessions
from facegate.server.metrics import Metrics
from facegate.server.streams import StreamEngine, StreamManager
from facegate.server.workers import InferencePool, ServerEngine

log = logging.getLogger(__name__)

EngineFactory = Callable[[], ServerEngine]
SWEEPER_ACTOR = Actor("server:sweeper")


def default_engine_factory(settings: Settings) -> EngineFactory:
    def build() -> ServerEngine:
        from facegate.pipeline.engine import FaceEngine

        return FaceEngine(settings.engine, settings.image, home=settings.home)  # photos' settings

    return build


def stream_engines(settings: Settings) -> Callable[[], StreamEngine]:
    """One face engine per video stream (streams run on their own threads, not the pool)."""

    def build() -> StreamEngine:
        from facegate.pipeline.engine import FaceEngine
        from facegate.video.detect import video_engine_config

        config = video_engine_config(settings.engine)  # video's detector and upsampling
        return FaceEngine(config, settings.image, home=settings.home)

    return build


def actor_of(request: Request, key: ApiKey) -> Actor:
    """The audit actor for a request: the key id and the request id."""
    return Actor(key.id, str(getattr(request.state, "request_id", "")))


FEED_INTERVAL_S = 1.0
"""How often the server applies the change feed in the background (searches also do first)."""


class Sweeper:
    """Runs the retention sweep every ``interval`` seconds on a daemon thread."""

    def __init__(self, gallery: Gallery, interval: float, grace: timedelta) -> None:
        self._gallery = gallery
        self._interval = interval
        self._grace = grace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facegate-sweeper", daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                done = self._gallery.sweep(pending_grace=self._grace, actor=SWEEPER_ACTOR)
            except FacegateError as exc:
                log.error("retention sweep failed: %s", exc)
                continue
            log.info(
                "retention sweep: %d templates deleted, %d subjects erased",
                done.templates,
                len(done.erased_subjects),
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


@dataclass(slots=True)
class Services:
    settings: Settings
    gallery: Gallery
    keys: KeyStore
    pool: InferencePool
    metrics: Metrics
    sweeper: Sweeper | None = field(default=None)
    streams: StreamManager | None = field(default=None)
    liveness: LivenessSessions = field(default_factory=LivenessSessions)

    @classmethod
    def start(cls, settings: Settings, factory: EngineFactory, metrics: Metrics) -> Services:
        """Open the gallery and key store, apply the purposes file, start workers and sweeper."""
        cfg = settings.server
        pool = InferencePool(factory, cfg.workers, cfg.queue_size, cfg.queue_timeout_s)
        secret = settings.master_key.get_secret_value() if settings.master_key else None
        gallery = Gallery.open(
            settings.home,
            engine=pool.analyzer(),
            config=settings.gallery,
            limits=settings.image,
            master_key=secret,
            store_url=settings.store.url,
        )
        keys = KeyStore.open(settings.home, audit=gallery.audit, url=settings.store.url)
        if settings.privacy.purposes_file is not None:
            for purpose in load_purposes(settings.privacy.purposes_file):
                gallery.define_purpose(purpose.to_purpose(), actor=Actor("server:config"))
        if not any(k.revoked_at is None for k in keys.list()):
            log.warning("no active API key: create one with 'facegate keys create'")
        metrics.workers.set(cfg.workers)
        pool.start()
        privacy = settings.privacy
        sweeper = Sweeper(
            gallery, privacy.sweep_interval_s, timedelta(days=privacy.pending_subject_days)
        )
        sweeper.start()
        gallery.follow(FEED_INTERVAL_S)  # writes by other processes reach this index too
        streams = StreamManager(gallery, stream_engines(settings), settings.home, cfg.max_streams)
        live = LivenessSessions.from_config(settings.liveness, settings.home, settings.engine.pack)
        return cls(settings, gallery, keys, pool, metrics, sweeper, streams, live)

    def close(self) -> None:
        if self.streams is not None:
            self.streams.close()
        if self.sweeper is not None:
            self.sweeper.close()
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
        score: float | None = None,
    ) -> None:
        """Append an audit record for an operation the gallery does not record itself
        (detect, pair verify, refusals before the gallery was reached)."""
        event = AuditEvent(operation, purpose, subject_ids, decision, score)
        self.gallery.record(event, actor_of(request, key))

    def liveness_evidence(
        self, key: ApiKey, purpose: str, session_id: str | None
    ) -> LivenessEvidence | None:
        """The evidence of ``key``'s passed liveness session ``session_id`` (spent now), or
        ``None`` without one; 409 when the purpose's policy requires liveness and none came."""
        if session_id is not None:
            return self.liveness.spend(session_id, key.id)
        try:
            policy = self.gallery.store.get_purpose(purpose)
        except PurposeNotFoundError:
            return None
        require_liveness(liveness_required(policy), None, purpose)
        return None
