"""The stream view in Debian's headless Chromium: start a stream of the Hamilton clip from the
page and see the frames with a box per track, its track id and, once the events identify it,
the name of the enrolled person; the track table (from the Server-Sent Events) names the people
in it and nobody else. A screenshot goes to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import serving
from test_console_browser import ARTIFACTS, CHROMIUM, LAUNCH_FLAGS

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)

PEOPLE = {"Lin-Manuel Miranda": "lin-manuel-miranda.png", "Alex Lacamoire": "alex-lacamoire.png"}


@pytest.fixture
def server(tmp_path: Path, shared_data: Path) -> Iterator[tuple[str, str]]:
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"the Hamilton clip is not at {clip}")
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1))
    (settings.home / "media").mkdir(parents=True)
    shutil.copy(clip, settings.home / "media" / clip.name)
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "control room").token
    store.close()
    with serving(create_app(settings), settings.server) as base:
        yield base, key


def _enrol_cast(base: str, key: str, examples: Path) -> None:
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=h, timeout=120) as http:
        assert http.put("/v1/purposes/stage", json={}).status_code == 200
        for name, photo in PEOPLE.items():
            sid = http.post("/v1/subjects", json={"display_name": name}).json()["subject_id"]
            consent = {"purpose": "stage", "evidence": "cast contract, clause 9"}
            assert http.post(f"/v1/subjects/{sid}/consents", json=consent).status_code == 201
            files = {"image": (photo, (examples / photo).read_bytes(), "image/png")}
            r = http.post(f"/v1/subjects/{sid}/faces", data={"purpose": "stage"}, files=files)
            assert r.status_code == 200, r.text


@pytest.mark.slow
def test_the_stream_view_draws_tracks_with_ids_and_names(
    server: tuple[str, str], examples: Path
) -> None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (make test installs it)"
        )
    base, key = server
    _enrol_cast(base, key, examples)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(180_000)
            page.goto(base + "/streams")
            page.fill("#key-input", key)
            page.click("#sign-in")
            page.wait_for_selector("#page:not([hidden])")
            page.fill("#st-source", "short_hamilton_clip.mp4")
            page.fill("#st-purpose", "stage")
            page.click("#st-start")
            page.wait_for_selector("#st-frame[src^='blob:']")
            named = page.wait_for_selector(
                "#st-boxes .box.named span:has-text('Lin-Manuel Miranda')"
            )
            assert named is not None and named.inner_text().startswith("#")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "streams-named-track.png"), full_page=True)
            page.wait_for_selector("#st-state:has-text('ended')")
            page.wait_for_selector("#st-tracks td:has-text('left')")
            rows = page.locator("#st-tracks tr")
            assert rows.count() >= 2
            names = page.locator("#st-tracks td.name").all_inner_texts()
            assert "Lin-Manuel Miranda" in names, names
            assert set(names) <= set(PEOPLE), names  # nobody is named wrongly
            for text in page.locator("#st-tracks tr td:first-child").all_inner_texts():
                assert text.startswith("#") and text[1:].isdigit()
            page.screenshot(path=str(ARTIFACTS / "streams-ended.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
