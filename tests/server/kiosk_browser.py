"""What the access and attendance kiosk browser tests share: a real server, HTTP setup calls,
and a Chromium whose fake camera shows a real photo."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serving
from test_console_browser import CHROMIUM, LAUNCH_FLAGS, playwright_api, write_y4m

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def need_chromium() -> None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (make test installs it)"
        )


@contextmanager
def real_server(home: Path) -> Iterator[tuple[httpx.Client, str]]:
    """A real server (default engine) and an admin-key HTTP client to set it up."""
    settings = Settings(home=home, server=ServerConfig(workers=1))
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "kiosk browser test").token
    store.close()
    with serving(create_app(settings), settings.server) as base:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            yield http, key


def ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def enrol(http: httpx.Client, name: str, purpose: str, photo: Path) -> str:
    sid = ok(http.post("/v1/subjects", json={"display_name": name}))["subject_id"]
    ok(http.post(f"/v1/subjects/{sid}/consents", json={"purpose": purpose, "evidence": "form 7"}))
    with photo.open("rb") as f:
        ok(http.post(f"/v1/subjects/{sid}/faces", data={"purpose": purpose}, files={"image": f}))
    return str(sid)


@contextmanager
def camera_page(photo: Path, tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    """A page in Chromium whose camera shows ``photo``; collects the page's script errors."""
    clip = tmp_path / "camera.y4m"
    write_y4m(photo, clip, frames=5)
    ARTIFACTS.mkdir(exist_ok=True)
    args = [*LAUNCH_FLAGS, f"--use-file-for-fake-video-capture={clip}"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(90_000)
            yield page, errors
        finally:
            browser.close()
