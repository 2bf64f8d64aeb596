"""Stream events and where they go: JSON lines, Server-Sent Events, signed webhooks.

An :class:`Event` says what happened to a track: ``track_started``, ``identified``,
``unknown``, ``track_left``, ``watchlist_hit``. Events carry ids (stream, track, subject,
event sequence number), the box, scores and the operating point; never images, embeddings or
names of people.

Sinks (:class:`EventSink`):

- :class:`JsonLinesSink` writes one JSON object per line (the CLI's ``--json``);
- :class:`EventHub` fans events out to any number of subscribers (the API's SSE endpoint),
  keeping a bounded history so a client that connects late sees what it missed;
- :class:`WebhookSink` POSTs each event (or any :class:`Deliverable`: a door decision too) to
  a URL from a bounded queue on its own thread, signed with HMAC-SHA256 (header
  ``X-Facegate-Signature: t=<unix time>,v1=<hex>`` over ``"<t>." + body``), retried with
  exponential back-off on errors and 5xx answers; when the queue is full the event is dropped
  and counted, so a slow receiver never stalls the stream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

log = logging.getLogger(__name__)

EVENT_TYPES = ("track_started", "identified", "unknown", "track_left", "watchlist_hit")
SIGNATURE_HEADER = "X-Facegate-Signature"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a track (ids and numbers only)."""

    type: str
    stream_id: str
    seq: int
    track_id: int
    frame: int
    timestamp: float
    box: tuple[float, float, float, float] | None = None
    subject_id: str | None = None
    score: float | None = None
    operating_point: str | None = None
    candidate_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "stream_id": self.stream_id,
            "seq": self.seq,
            "track_id": self.track_id,
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }
        if self.box is not None:
            out["box"] = [round(v, 1) for v in self.box]
        for key in ("subject_id", "operating_point", "candidate_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.score is not None:
            out["score"] = round(self.score, 6)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


class Deliverable(Protocol):
    """What a :class:`WebhookSink` can send: a stream event, or another application's event
    (e.g. a door decision) with a sequence number, a source id and a JSON body."""

    @property
    def seq(self) -> int: ...

    @property
    def stream_id(self) -> str: ...

    def to_json(self) -> str: ...


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """One JSON object per line on a text stream, flushed per event."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def emit(self, event: Event) -> None:
        self.out.write(event.to_json() + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class ListSink:
    """Keeps every event in memory (summaries and tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        return None


class FanOut:
    """Sends each event to several sinks."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


class EventHub:
    """Fan-out to subscribers with a bounded history (for Server-Sent Events).

    :meth:`subscribe` yields every event from the start of the kept history, then new ones as
    they come, and returns once the hub is closed and drained.
    """

    def __init__(self, history: int = 10_000) -> None:
        self._events: deque[Event] = deque(maxlen=history)
        self._first = 0  # sequence position of self._events[0]
        self._cond = threading.Condition()
        self._closed = False

    def emit(self, event: Event) -> None:
        with self._cond:
            if len(self._events) == self._events.maxlen:
                self._first += 1
            self._events.append(event)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def next_after(self, position: int, timeout: float) -> tuple[list[Event], int, bool]:
        """Events from ``position`` on (waiting up to ``timeout``), the next position, done."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._first + len(self._events) > position or self._closed, timeout
            )
            start = max(position, self._first)
            end = self._first + len(self._events)
            batch = [self._events[i - self._first] for i in range(start, end)]
            return batch, end, self._closed and not batch

    def subscribe(self, timeout: float = 1.0) -> Iterator[Event]:
        position = 0
        while True:
            batch, position, done = self.next_after(position, timeout)
            yield from batch
            if done:
                return


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: bytes, body: bytes, header: str, *, tolerance_s: float = 300.0, now: float | None = None
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made within ``tolerance_s``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - stamp) > tolerance_s:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


@dataclass(slots=True)
class WebhookStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0


class WebhookSink:
    """POSTs events as JSON, signed, from a bounded queue (see the module docstring)."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        queue_size: int = 1000,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a webhook URL must be http:// or https://")
        self.url = url
        self.secret = secret
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.stats = WebhookStats()
        self._queue: queue.Queue[Deliverable | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facegate-webhook", daemon=True)
        self._thread.start()

    def emit(self, event: Deliverable) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.stats.dropped += 1
            log.warning(
                "webhook queue full; event %d of stream %s dropped", event.seq, event.stream_id
            )

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)
        self._stop.set()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            if self._deliver(event.to_json().encode()):
                self.stats.delivered += 1
            else:
                self.stats.failed += 1
                log.warning("webhook gave up on event %d of stream %s", event.seq, event.stream_id)

    def _deliver(self, body: bytes) -> bool:
        delay = self.backoff_s
        for attempt in range(self.max_attempts):
            if attempt:
                self.stats.retries += 1
                if self._stop.wait(delay):
                    return False
                delay = min(self.max_backoff_s, delay * 2)
            outcome = self._post(body)
            if outcome != "retry":
                return outcome == "ok"
        return False

    def _post(self, body: bytes) -> str:
        """``ok``, ``retry`` (network error, 408, 429, 5xx) or ``refused`` (other 4xx)."""
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, body, int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                return "ok" if 200 <= int(answer.status) < 300 else "retry"
        except urllib.error.HTTPError as exc:
            return "refused" if 400 <= exc.code < 500 and exc.code not in (408, 429) else "retry"
        except (urllib.error.URLError, OSError):
            return "retry"
