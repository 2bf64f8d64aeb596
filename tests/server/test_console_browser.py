"""The web console in Debian's headless Chromium, driven by Playwright, with a fake webcam.

The camera is fed from a ``.y4m`` file made here from a shared photo: sign in, create a
subject, record consent, enrol from the webcam, identify from the webcam and read the right
name on the page. A screenshot goes to ``test-artifacts/``. Playwright's own browser download
is not used: the test needs ``/usr/bin/chromium`` (``make test`` installs it with apt-get).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from live_server import serving

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)


def write_y4m(
    photo: Path, target: Path, frames: int = 5, size: tuple[int, int] = (640, 480)
) -> None:
    """A YUV4MPEG2 4:2:0 clip of ``frames`` identical frames: ``photo`` letterboxed to ``size``."""
    width, height = size
    image = cv2.imread(str(photo))
    if image is None:
        raise FileNotFoundError(photo)
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    canvas = np.full((height, width, 3), 96, np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    planes = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1))
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "browser test").token
    store.close()
    with serving(create_app(settings), settings.server) as base:
        yield base, key


def _enrol_queue(page: Any, examples: Path, tmp_path: Path) -> None:
    """Photos in the enrol queue: no file twice, a refused one marked with its reason and not
    sent again, the next enrolment still works, every photo removable."""
    blank = tmp_path / "no-face.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    shots = "#enrol-shots figure"
    page.set_input_files("#enrol-files", [str(blank), str(examples / "obama2.jpg")])
    page.wait_for_selector(f"{shots} >> nth=1")
    page.set_input_files("#enrol-files", str(examples / "obama2.jpg"))  # the same file again
    page.wait_for_selector("#status:has-text('already in the queue')")
    assert page.locator(shots).count() == 2
    page.click("#enrol-submit")
    page.wait_for_selector("#status:has-text('1 photo(s) refused')")
    assert "1 template(s) added" in page.inner_text("#status")
    assert page.locator(shots).count() == 1
    assert "no face found" in page.inner_text("#enrol-shots figure.refused figcaption")
    page.set_input_files("#enrol-files", str(examples / "obama-480p.jpg"))
    page.wait_for_selector(f"{shots} >> nth=1")
    page.click("#enrol-submit")  # the refused photo is not sent again: this one is enrolled
    page.locator(shots).nth(1).wait_for(state="detached")
    assert "1 template(s) added." in page.inner_text("#status")
    assert "refused" not in page.inner_text("#status")
    page.click("#enrol-shots figure.refused button.remove")
    assert page.locator(shots).count() == 0


@pytest.mark.slow
def test_console_enrol_and_identify_from_webcam(
    examples: Path, live_server: tuple[str, str], tmp_path: Path
) -> None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (make test installs it)"
        )
    base, key = live_server
    clip = tmp_path / "obama.y4m"
    write_y4m(examples / "obama.jpg", clip)
    ARTIFACTS.mkdir(exist_ok=True)
    args = [*LAUNCH_FLAGS, f"--use-file-for-fake-video-capture={clip}"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(60_000)
            page.goto(base + "/")
            page.fill("#key-input", key)
            page.click("#sign-in")
            page.wait_for_selector("#whoami:has-text('admin')")

            page.fill("#new-subject-name", "Barack Obama")
            page.click("#create-subject")
            page.wait_for_selector("#detail-name:has-text('Barack Obama')")
            page.fill("#consent-purpose", "door")
            page.fill(
                "#consent-text", "I agree to open the door by face; I can withdraw at any time."
            )
            page.check("#consent-accepted")
            page.click("#grant-consent")
            page.wait_for_selector("#detail-consents:has-text('door')")
            assert "I agree to open the door" in page.inner_text("#detail-consents")

            page.click("#tabs button[data-tab='enrol']")
            page.fill("#enrol-purpose", "door")
            page.click("#enrol-camera-start")
            page.wait_for_selector("#enrol-capture:not([disabled])")
            page.click("#enrol-capture")
            page.wait_for_selector("#enrol-shots img")
            page.click("#enrol-submit")
            page.wait_for_selector("#status:has-text('1 template(s) added')")
            _enrol_queue(page, examples, tmp_path)

            page.click("#tabs button[data-tab='identify']")
            page.fill("#identify-purpose", "door")
            page.click("#live-start")
            page.wait_for_selector("#live-results .name:has-text('Barack Obama')")
            page.screenshot(path=str(ARTIFACTS / "console-identify.png"), full_page=True)
            page.click("#live-stop")
            page.evaluate("document.getElementById('live-results').replaceChildren()")
            page.set_input_files("#identify-file", str(examples / "obama2.jpg"))  # another photo
            page.wait_for_selector("#live-results .name:has-text('Barack Obama')")
            assert page.is_visible("#identify-image")

            page.click("#tabs button[data-tab='audit']")
            page.wait_for_selector("#audit-rows td:has-text('identify')")
            page.screenshot(path=str(ARTIFACTS / "console-audit.png"), full_page=True)
            page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
            page.click("#tabs button[data-tab='subjects']")
            page.wait_for_selector("#subject-rows td:has-text('Barack Obama')")
            page.screenshot(path=str(ARTIFACTS / "console-tablet.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


@pytest.mark.slow
def test_api_docs_render_from_local_files(live_server: tuple[str, str]) -> None:
    """``/docs`` (Swagger UI) shows the operations, and their problem responses, with every
    request that leaves the loopback server blocked: nothing is loaded from a CDN."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (make test installs it)"
        )
    base, _ = live_server
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        url: str = route.request.url
        if url.startswith(base) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.route("**/*", only_loopback)
            page.goto(base + "/docs")
            page.wait_for_selector(".opblock-summary-path[data-path='/v1/identify']")
            assert page.locator(".opblock").count() >= 20
            page.click(".opblock-summary-path[data-path='/v1/identify']")
            page.wait_for_selector(".opblock.is-open .response[data-code='503']")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
        finally:
            browser.close()
    assert outside == []
