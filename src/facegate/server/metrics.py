"""Prometheus metrics and the ASGI middleware that records them, sets request ids and limits bodies.

Each app has its own registry (several apps can live in one process, e.g. in tests). Series:
``facegate_http_requests_total{method,route,status}``,
``facegate_http_request_duration_seconds{method,route}``,
``facegate_faces_processed_total{operation}``, ``facegate_errors_total{type}``,
``facegate_inference_waiting`` and ``facegate_inference_admitted`` (the queue), and
``facegate_inference_workers``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.errors import PayloadTooLargeError

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's metric families, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "facegate_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "facegate_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.faces = Counter(
            "facegate_faces_processed", "Faces processed", ["operation"], registry=r
        )
        self.errors = Counter("facegate_errors", "Errors by problem type", ["type"], registry=r)
        self.waiting = Gauge("facegate_inference_waiting", "Requests waiting", registry=r)
        self.admitted = Gauge("facegate_inference_admitted", "Jobs queued or run", registry=r)
        self.workers = Gauge("facegate_inference_workers", "Inference workers", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ObservedApp:
    """ASGI middleware: request ids, body size limit, and request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            scope["state"]["body_too_large"] = True
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, self._limited(receive, scope), send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)

    def _limited(self, receive: Receive, scope: Scope) -> Receive:
        seen = 0
        limit = self.max_body

        async def wrapped() -> Message:
            nonlocal seen
            if scope["state"].get("body_too_large"):
                raise PayloadTooLargeError(f"request body over the {limit}-byte limit")
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLargeError(f"request body over the {limit}-byte limit")
            return message

        return wrapped


def _content_length(scope: Scope) -> int | None:
    headers: Any = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
