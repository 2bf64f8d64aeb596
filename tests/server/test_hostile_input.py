"""Hostile input: every bad request is a 4xx problem+json with a clear detail, never a 500,
nothing is logged as an unhandled error, and a keep-alive connection still answers after it.
Also the problem+json answers for unknown routes and methods, and the OpenAPI document."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import h11
import pytest
from fastapi.testclient import TestClient
from live_server import serving
from server_fakes import FakeEngine, Keys, bearer

from facegate.config import Settings
from facegate.server.app import create_app

PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
NESTED = b'{"purpose": "door", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
HUGE_TOP_K = b'{"purpose": "door", "top_k": ' + b"9" * 5000 + b"}"

# (name, method, path, body, expected words in the detail); {sid} is a subject's id
HOSTILE: list[tuple[str, str, str, bytes, str]] = [
    ("nested-json", "POST", "/v1/identify", NESTED, "nested too deeply"),
    ("nested-top-level", "POST", "/v1/detect", b"[" * 100_000, "nested too deeply"),
    ("top-k-5000-digits", "POST", "/v1/identify", HUGE_TOP_K, "4300 digits"),
    (
        "data-url-without-comma",
        "POST",
        "/v1/identify",
        b'{"purpose": "door", "image": "data:image/jpeg;base64"}',
        "data: URL",
    ),
    ("audit-before-2**63", "GET", "/v1/audit?before=9223372036854775808", b"", "before"),
    (
        "expires-9999-west",
        "POST",
        "/v1/subjects/{sid}/consents",
        b'{"purpose": "door", "evidence": "form 7", "expires_at": "9999-12-31T23:59:59-14:00"}',
        "out of range",
    ),
    (
        "expires-0001-east",
        "POST",
        "/v1/subjects/{sid}/consents",
        b'{"purpose": "door", "evidence": "form 7", "expires_at": "0001-01-01T00:00:00+14:00"}',
        "out of range",
    ),
]


@pytest.fixture
def subject_id(client: TestClient, keys: Keys) -> str:
    r = client.post("/v1/subjects", json={"display_name": "Ann"}, headers=bearer(keys.admin))
    sid: str = r.json()["subject_id"]
    return sid


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "words"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_input_is_a_422_problem(
    client: TestClient,
    keys: Keys,
    subject_id: str,
    caplog: pytest.LogCaptureFixture,
    name: str,
    method: str,
    path: str,
    body: bytes,
    words: str,
) -> None:
    caplog.set_level(logging.WARNING)
    headers = {**bearer(keys.admin), **JSON}
    r = client.request(method, path.format(sid=subject_id), content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert words in r.json()["detail"], r.json()
    assert not [rec for rec in caplog.records if rec.exc_info], "an error was logged"


def test_unknown_route_and_method_are_problems(client: TestClient, keys: Keys) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = client.put("/v1/identify", headers=bearer(keys.admin))
    assert r.status_code == 405 and r.headers["content-type"].startswith(PROBLEM)
    assert r.headers["allow"] == "POST"
    r = client.post("/v1/subjects/abc", headers=bearer(keys.admin))
    assert r.status_code == 405 and r.headers["allow"] == "GET, DELETE, HEAD"


def test_openapi_declares_security_images_and_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: fg_...",
    }
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    seen: set[str] = set()
    for path, operations in spec["paths"].items():
        for op in operations.values():
            if path.startswith("/v1/"):
                assert op["security"] == [{"bearer": []}], path
                assert op["responses"]["401"]["content"] == problem
            seen |= {code for code, r in op["responses"].items() if r.get("content") == problem}
    assert {"401", "403", "404", "409", "413", "415", "422", "503"} <= seen
    identify = spec["paths"]["/v1/identify"]["post"]["requestBody"]["content"]
    for kind in ("multipart/form-data", "application/json"):
        assert {"purpose", "image"} <= set(identify[kind]["schema"]["required"])
    verify = spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"]["application/json"]
    assert verify["schema"]["anyOf"] == [
        {"required": ["image_a", "image_b"]},
        {"required": ["image", "subject_id"]},
    ]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# --- over a real keep-alive connection --------------------------------------------------


@pytest.fixture
def live(settings: Settings, keys: Keys) -> Iterator[str]:
    app = create_app(settings, engine_factory=lambda: FakeEngine(settings.image))
    with serving(app, settings.server) as base:
        yield base


class Connection:
    """One HTTP/1.1 connection, request after request (h11 on a plain socket)."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.conn = h11.Connection(h11.CLIENT)
        self.host = host

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        heads = [("host", self.host), ("content-length", str(len(body))), *headers.items()]
        out = self.conn.send(h11.Request(method=method, target=path, headers=heads))
        self.sock.sendall(
            out + self.conn.send(h11.Data(data=body)) + self.conn.send(h11.EndOfMessage())
        )
        status, content = 0, b""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError("the server closed the connection")
        self.conn.start_next_cycle()
        return status, json.loads(content)

    def close(self) -> None:
        self.sock.close()


def test_connection_kept_after_hostile_input(live: str, keys: Keys) -> None:
    http = Connection(live)
    headers = {**bearer(keys.admin), "content-type": "application/json"}
    try:
        status, created = http.request(
            "POST", "/v1/subjects", json.dumps({"display_name": "Bo"}).encode(), headers
        )
        assert status == 201
        for _, method, path, body, _ in HOSTILE:
            target = path.format(sid=created["subject_id"])
            status, problem = http.request(method, target, body, headers)
            assert status == 422, (path, problem)
            status, health = http.request("GET", "/healthz", b"", {})
            assert status == 200 and health["status"] == "ok"
    finally:
        http.close()


def test_readyz_not_ready_is_a_problem(settings: Settings) -> None:
    loaded = threading.Event()

    class SlowEngine(FakeEngine):
        def load(self) -> SlowEngine:
            loaded.wait(30)
            return self

    app = create_app(settings, engine_factory=lambda: SlowEngine(settings.image))
    with TestClient(app) as client:
        try:
            r = client.get("/readyz")
            assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)
            assert r.json()["state"] == "loading" and r.headers["retry-after"] == "1"
        finally:
            loaded.set()
