"""The HTTP/1.1 connection layer ``facegate serve`` runs on: uvicorn's h11 protocol, guarded.

uvicorn alone lets a client hold a connection forever without sending a request (its
keep-alive timer starts only after a first response and stops at the first byte received), and
its ``limit_concurrency`` counts such idle connections: 130 silent sockets made every request,
``/healthz`` included, answer 503. This protocol instead

- gives every connection ``header_timeout_s`` to send a complete request head, from the moment
  it opens and again after each response (keep-alive); a connection that has not is closed (a
  ``408`` problem+json first when part of a head had arrived), so headers sent one byte at a
  time cannot hold it either;
- never answers 503 for connections: backpressure lives in facegate's own inference queue,
  which answers problem+json 503 when full; only past ``max_connections`` open sockets (a file
  descriptor guard, far above what idle clients can hold for a few seconds) is a new
  connection answered 503 and closed;
- answers its own errors (a request it cannot parse, 408, 503) as ``application/problem+json``.

It is a subclass of uvicorn's ``H11Protocol`` passed as ``uvicorn.Config(http=...)``; the
slow-client test (``tests/server/test_slow_clients.py``) checks it on every uvicorn version that
the project installs.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from facegate.config import ServerConfig


def raw_problem(status: int, detail: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response with a problem+json body."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
    ).encode()
    head = [
        f"HTTP/1.1 {status} {phrase}",
        "content-type: application/problem+json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if status == 503:
        head.append("retry-after: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and problem+json errors."""

    header_timeout_s: float = 5.0
    max_connections: int = 1000
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(503, "too many open connections; retry later")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a whole request head has arrived
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, f"not a valid HTTP/1.1 request: {msg}")

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        pending, _ = self.conn.trailing_data
        if pending:
            self._refuse(408, f"no complete request head within {self.header_timeout_s:g} s")
        else:
            self.transport.close()

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(raw_problem(status, detail))
            self.transport.close()


def protocol_for(server: ServerConfig) -> type[GuardedH11Protocol]:
    """The protocol class with this configuration's head deadline and connection guard."""
    attrs = {
        "header_timeout_s": server.header_timeout_s,
        "max_connections": server.max_connections,
    }
    return type("FacegateH11Protocol", (GuardedH11Protocol,), attrs)


def uvicorn_options(server: ServerConfig, log_level: str = "warning") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` as ``facegate serve`` uses."""
    return {
        "host": server.host,
        "port": server.port,
        "http": protocol_for(server),
        "timeout_keep_alive": server.header_timeout_s,
        "log_level": log_level.lower(),
        "access_log": False,
    }
