"""Slow and idle clients on loopback cannot take the service down.

200 connections that send nothing, and 20 that send a request head one byte at a time, are
held open while a keyed request and ``/healthz`` are made: both must be answered (a generous
bound that only a hang or a 503 breaks; no timing is measured). Then every idle connection is
closed by the server after the request-head deadline, the trickling ones with a 408
problem+json (or a reset, when a byte crosses the close). A partial head gets a 408
problem+json; past the open-connection guard a new connection gets a 503 problem+json; a
request the server cannot parse gets a 400 problem+json.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from live_server import serving
from server_fakes import FakeEngine, Keys, bearer, face_png

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app

IDLE = 200
TRICKLING = 20
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n"


@pytest.fixture
def live(settings: Settings, keys: Keys) -> Iterator[str]:
    server = ServerConfig(workers=1, queue_size=4, header_timeout_s=2, max_connections=400)
    cfg = settings.model_copy(update={"server": server})
    app = create_app(cfg, engine_factory=lambda: FakeEngine(cfg.image))
    with serving(app, server) as base:
        yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    try:
        for byte in HEAD[:-4]:  # never completes the head
            if stop.wait(0.2):
                return
            sock.sendall(bytes([byte]))
    except OSError:
        return  # closed by the server: what the test expects


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_keyed_request_answered_while_idle_and_trickling_clients_hold_connections(
    live: str, keys: Keys
) -> None:
    idle = [_connect(live) for _ in range(IDLE)]
    trickling = [_connect(live) for _ in range(TRICKLING)]
    stop = threading.Event()
    threads = [threading.Thread(target=_trickle, args=(s, stop)) for s in trickling]
    for thread in threads:
        thread.start()
    try:
        with httpx.Client(base_url=live, timeout=30) as http:
            r = http.post(
                "/v1/detect", files={"image": ("a.png", face_png(1))}, headers=bearer(keys.admin)
            )
            assert r.status_code == 200, r.text
            assert len(r.json()["faces"]) == 1
            assert http.get("/healthz").json()["status"] == "ok"
        # the server closes every connection that sent no complete head (deadline 2 s)
        for sock in idle:
            assert _read_all(sock) == b""
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for sock in trickling:  # a 408 problem, or a reset if a byte crossed the close
            answer = _read_or_reset(sock)
            if answer is not None:
                assert_problem(answer, 408)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for sock in idle + trickling:
            sock.close()


def _read_or_reset(sock: socket.socket) -> bytes | None:
    try:
        return _read_all(sock)
    except ConnectionResetError:
        return None


def assert_problem(answer: bytes, status: int) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), answer
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["status"] == status


def test_partial_head_gets_408_problem(live: str) -> None:
    sock = _connect(live)
    try:
        sock.sendall(HEAD[:20])  # then nothing: the deadline passes mid-head
        assert_problem(_read_all(sock), 408)
    finally:
        sock.close()


def test_keep_alive_connection_closed_after_deadline(live: str) -> None:
    sock = _connect(live)
    try:
        sock.sendall(HEAD)
        time.sleep(0.1)
        answer = _read_all(sock)  # 200, then closed at the deadline with no new request
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        sock.close()


def test_unparseable_request_and_connection_guard_are_problems(live: str) -> None:
    sock = _connect(live)
    try:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        head, _, body = _read_all(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"application/problem+json" in head
        assert json.loads(body)["status"] == 400
    finally:
        sock.close()
    held = [_connect(live) for _ in range(400)]
    try:
        extra = _connect(live)
        head, _, body = _read_all(extra).partition(b"\r\n\r\n")
        extra.close()
        assert head.startswith(b"HTTP/1.1 503") and b"application/problem+json" in head
        assert b"retry-after: 1" in head and json.loads(body)["status"] == 503
    finally:
        for sock in held:
            sock.close()
