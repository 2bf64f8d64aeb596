"""Shared pieces of the applications' end-to-end tests: a real-engine app, a door receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def real_app(home: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app on the default engine (dlib pack), with an admin key and a kiosk key."""
    settings = Settings(home=home, server=ServerConfig(workers=1, queue_size=8))
    store = KeyStore.open(settings.home)
    try:
        tokens = {
            "admin": store.create(["admin"], ["*"], "office").token,
            "kiosk": store.create(["identify", "verify"], ["access:block-7", "attendance:cs101"],
                                  "kiosk").token,
            "other": store.create(["identify"], ["access:garage"], "garage kiosk").token,
        }  # fmt: skip
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client, tokens


def problem(r: Any, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == f"/problems/{kind}", r.json()


def enrol(client: TestClient, h: dict[str, str], name: str, purpose: str, photo: Path) -> str:
    sid = client.post("/v1/subjects", json={"display_name": name}, headers=h).json()["subject_id"]
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={
            "purpose": purpose,
            "text": "I agree that my face opens this door.",
            "method": "kiosk",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    with photo.open("rb") as f:
        r = client.post(
            f"/v1/subjects/{sid}/faces", data={"purpose": purpose}, files={"image": f}, headers=h
        )
    assert r.status_code == 200, r.text
    return str(sid)


def post_image(
    client: TestClient, url: str, photo: Path | bytes, h: dict[str, str], **fields: str
) -> Any:
    data = photo if isinstance(photo, bytes) else photo.read_bytes()
    return client.post(url, data=fields, files={"image": ("p.jpg", data, "image/jpeg")}, headers=h)


class Receiver:
    """A loopback door controller keeping every (body, signature) it receives."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append((body, self.headers["X-Facegate-Signature"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/door"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
