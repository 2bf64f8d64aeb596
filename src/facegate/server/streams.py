"""Video streams run by the server: each on its own thread, its events in an :class:`EventHub`.

A stream is started by ``POST /v1/streams`` with a source, a purpose and a policy, runs until
its source ends or ``DELETE /v1/streams/{id}`` stops it, and its events are served as
Server-Sent Events (every event from the start, then new ones as they come) and, when the
policy names a webhook, POSTed there signed. Sources a caller may name: camera devices,
``rtsp://`` and ``http(s)://`` URLs, and files inside the data dir's ``media/`` folder (never
an arbitrary path on the server).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field, HttpUrl

from facegate.errors import (
    ConfigError,
    FacegateError,
    StreamLimitError,
    StreamNotFoundError,
    WatchlistError,
)
from facegate.gallery.service import Gallery
from facegate.privacy.audit import Actor, AuditEvent
from facegate.server.stream_preview import StreamPreview
from facegate.store.schema import utcnow
from facegate.types import Face, ImageArray
from facegate.video.detect import video_finder
from facegate.video.events import EventHub, EventSink, FanOut, WebhookSink
from facegate.video.identity import TrackIdentities
from facegate.video.search import AuditingSink, GallerySearcher
from facegate.video.sources import FrameBudget, FrameSource, SourceOptions, is_live, open_source
from facegate.video.stream import StreamAnalyzer, StreamSummary
from facegate.video.watchlist import Hit, WatchlistHits, require_realtime_allowed, use_record

MEDIA_DIR = "media"


class StreamEngine(Protocol):
    def locate(self, pixels: ImageArray, *, max_side: int | None = None) -> list[Face]: ...

    def add_landmarks(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]: ...

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]: ...


class WebhookConfig(BaseModel):
    url: HttpUrl = Field(..., description="Where each event is POSTed (JSON).")
    secret: str = Field(
        ..., min_length=16, max_length=256,
        description="HMAC-SHA256 key: X-Facegate-Signature is t=<unix>,v1=hex(HMAC(t.body)).",
    )  # fmt: skip


class StreamPolicy(BaseModel):
    """How a stream is processed."""

    max_fps: float | None = Field(None, gt=0, le=120, description="Frames per second at most.")
    detect_every: int = Field(1, ge=1, le=30, description="Detect on every Nth frame.")
    webhook: WebhookConfig | None = None


class StreamRequest(BaseModel):
    source: str = Field(..., min_length=1, max_length=2048)
    purpose: str = Field(..., min_length=1, max_length=128)
    policy: StreamPolicy = Field(default_factory=StreamPolicy)


@dataclass(slots=True)
class StreamHandle:
    id: str
    source: str
    purpose: str
    key_id: str
    hub: EventHub
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    summary: StreamSummary | None = None
    error: str | None = None
    watchlist: bool = False
    hits: WatchlistHits = field(default_factory=WatchlistHits)
    preview: StreamPreview = field(default_factory=StreamPreview)

    @property
    def state(self) -> str:
        if self.thread is not None and self.thread.is_alive():
            return "running"
        return "failed" if self.error else "ended"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "purpose": self.purpose,
            "state": self.state,
            "watchlist": self.watchlist,
        }
        if self.summary is not None:
            out["summary"] = self.summary.to_dict()
        if self.error is not None:
            out["error"] = self.error
        return out


def resolve_source(spec: str, home: Path) -> str:
    """The source a caller may name: a camera or stream URL, or a file under ``home/media``."""
    if is_live(spec):
        return spec
    media = (home / MEDIA_DIR).resolve()
    path = (media / spec).resolve()
    if not path.is_relative_to(media) or not path.exists():
        raise ConfigError(f"source must be a camera, a stream URL or a file in {MEDIA_DIR}/")
    return str(path)


class StreamManager:
    """Starts, lists and stops streams; at most ``max_streams`` run at once."""

    def __init__(
        self, gallery: Gallery, engines: Callable[[], StreamEngine], home: Path, max_streams: int
    ) -> None:
        self.gallery = gallery
        self.engines = engines
        self.home = home
        self.max_streams = max_streams
        self._streams: dict[str, StreamHandle] = {}
        self._lock = threading.Lock()

    def start(self, request: StreamRequest, key_id: str) -> StreamHandle:
        spec = resolve_source(request.source, self.home)
        purpose = self.gallery.store.get_purpose(request.purpose)  # unknown purpose: 404 now
        require_realtime_allowed(purpose, is_live(spec))
        searcher = GallerySearcher(self.gallery, request.purpose)
        with self._lock:
            running = sum(1 for s in self._streams.values() if s.state == "running")
            if running >= self.max_streams:
                raise StreamLimitError(f"at most {self.max_streams} streams run at once")
            handle = StreamHandle(
                "st_" + secrets.token_hex(8), request.source, request.purpose, key_id, EventHub()
            )
            handle.watchlist = purpose.watchlist
            self._streams[handle.id] = handle
        source = open_source(spec, SourceOptions())
        handle.thread = threading.Thread(
            target=self._run, args=(handle, source, searcher, request.policy),
            name=f"facegate-{handle.id}", daemon=True,
        )  # fmt: skip
        handle.thread.start()
        return handle

    def _run(
        self,
        handle: StreamHandle,
        source: FrameSource,
        searcher: GallerySearcher,
        policy: StreamPolicy,
    ) -> None:
        sinks: list[EventSink] = [
            handle.hub,
            AuditingSink(self.gallery, handle.purpose, source.name),
            handle.hits,
        ]
        if policy.webhook is not None:
            hook = policy.webhook
            sinks.append(WebhookSink(str(hook.url), hook.secret.encode()))
        sink = FanOut(sinks)
        started = utcnow()
        pack = "unknown"
        try:
            engine = self.engines()
            pack = str(getattr(engine, "pack_id", pack))
            analyzer = StreamAnalyzer(
                video_finder(engine),
                identities=TrackIdentities(engine, searcher, landmarks=engine.add_landmarks),
                sink=sink,
                stream_id=handle.id,
                detect_every=policy.detect_every,
                watchlist=handle.watchlist,
            )
            handle.summary = analyzer.summary
            budget = FrameBudget(policy.max_fps)
            analyzer.run(source, budget, stop=handle.stop, on_frame=handle.preview.update)
        except FacegateError as exc:
            handle.error = str(exc)
        finally:
            sink.close()
            if handle.watchlist:
                self._log_use(handle, source.name, pack, started)

    def _log_use(self, handle: StreamHandle, source: str, pack: str, started: datetime) -> None:
        size = len(self.gallery.subjects(handle.purpose))
        event = use_record(handle.purpose, size, pack, source, started, utcnow(), handle.hits)
        self.gallery.record(event, Actor(handle.key_id))

    def confirm(self, stream_id: str, seq: int, key_id: str) -> Hit:
        """A person (their key) confirms a watchlist hit; audited."""
        handle = self.get(stream_id)
        if not handle.watchlist:
            raise WatchlistError(f"stream {stream_id} does not search a watchlist")
        hit = handle.hits.confirm(seq, key_id)
        status = "confirmed" if hit.confirmed else "candidate"
        decision = (
            f"stream {stream_id} hit {seq} (track {hit.track_id}): confirmation "
            f"{len(hit.confirmers)} of 2, {status}"
        )
        event = AuditEvent("watchlist.confirm", handle.purpose, (hit.candidate_id,), decision)
        self.gallery.record(event, Actor(key_id))
        return hit

    def get(self, stream_id: str) -> StreamHandle:
        found = self._streams.get(stream_id)
        if found is None:
            raise StreamNotFoundError(f"no stream {stream_id!r}")
        return found

    def list(self) -> list[StreamHandle]:
        return list(self._streams.values())

    def stop(self, stream_id: str, timeout_s: float = 30.0) -> StreamHandle:
        handle = self.get(stream_id)
        handle.stop.set()
        if handle.thread is not None:
            handle.thread.join(timeout=timeout_s)
        return handle

    def close(self) -> None:
        for handle in self.list():
            self.stop(handle.id, timeout_s=5.0)
