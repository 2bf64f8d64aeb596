"""The liveness page in Debian's headless Chromium with a fake webcam fed from a real clip.

The camera plays a ``.y4m`` file made here: frames 82-175 of the Hamilton clip (a singer turns
his head to his right, holds, then turns to his left), played at half speed so that a 2-core
machine, answering one frame at a time, still sees each movement in several frames, after
three seconds of the first frame held still. The server's settings ask every session for
exactly what the clip shows (``liveness.challenges = ["turn_right", "turn_left"]``,
``liveness.shuffle = false``: the fixed script a supervised desk would use). The page must
pass that clip, and refuse a still photo fed as the camera. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from live_server import serving
from test_console_browser import ARTIFACTS, CHROMIUM, LAUNCH_FLAGS, write_y4m

from facegate.config import LivenessConfig, ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)

FIRST, LAST = 82, 175  # the singer's shot: turn right 82-111, turn left 138-161
CLIP_FPS = 15  # the clip's 29.97 frames/s played at half speed
SCRIPT = LivenessConfig(
    challenges=["turn_right", "turn_left"],
    shuffle=False,
    hold_min_s=1.0,
    hold_max_s=1.0,
    response_s=5.0,
    ttl_s=60.0,
)


def write_clip_y4m(frames: Sequence[np.ndarray], target: Path, fps: int) -> None:
    """A YUV4MPEG2 4:2:0 clip of BGR ``frames`` (all one size, even sides) at ``fps``."""
    height, width = frames[0].shape[:2]
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def hamilton_frames(path: Path) -> list[np.ndarray]:
    """The camera's frames: 3 s of frame 82 held still, 82-175, then 4 s of frame 175."""
    cap = cv2.VideoCapture(str(path))
    shot = []
    for index in range(LAST + 1):
        ok, bgr = cap.read()
        assert ok, f"{path} has fewer than {LAST + 1} frames"
        if index >= FIRST:
            shot.append(bgr)
    cap.release()
    return [shot[0]] * (3 * CLIP_FPS) + shot + [shot[-1]] * (4 * CLIP_FPS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1), liveness=SCRIPT)
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "liveness desk").token
    store.close()
    with serving(create_app(settings), settings.server) as base:
        yield base, key


def _warm_up(base: str, key: str, jpeg: bytes) -> None:
    """One frame through a throwaway session, so that the models are loaded before the page's
    session starts its clock."""
    h = {"Authorization": f"Bearer {key}"}
    session = httpx.post(f"{base}/v1/liveness/sessions", headers=h, timeout=60).json()
    r = httpx.post(
        f"{base}/v1/liveness/sessions/{session['id']}/frames",
        headers=h,
        data={"nonce": session["nonce"], "timestamp_ms": "0"},
        files={"image": ("f.jpg", jpeg, "image/jpeg")},
        timeout=120,
    )
    assert r.status_code == 200, r.text


def _run_page(base: str, key: str, camera: Path, shot: str) -> dict[str, str]:
    """Open /liveness with ``camera`` as the webcam, sign in, run a check; the verdict."""
    args = [*LAUNCH_FLAGS, f"--use-file-for-fake-video-capture={camera}"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(90_000)
            page.goto(base + "/liveness")
            page.fill("#key-input", key)
            page.click("#sign-in")
            page.wait_for_selector("#page:not([hidden])")
            page.click("#lv-start")
            page.wait_for_selector("#lv-steps li[data-challenge='turn_right']")
            assert page.locator("#lv-steps li").count() == 2
            page.wait_for_selector("#lv-verdict:not([hidden])")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
            assert errors == []
            return {
                "class": page.get_attribute("#lv-verdict", "class") or "",
                "reason": page.inner_text("#lv-reason"),
                "prompt": page.inner_text("#lv-prompt"),
                "done": str(page.locator("#lv-steps li.done").count()),
                "session": page.inner_text("#lv-session"),
            }
        finally:
            browser.close()


def _need_chromium() -> None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (make test installs it)"
        )


@pytest.mark.slow
def test_the_page_passes_a_live_clip_and_refuses_a_still_photo(
    server: tuple[str, str], shared_data: Path, examples: Path, tmp_path: Path
) -> None:
    _need_chromium()
    clip_path = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip_path.exists():
        pytest.skip(f"the Hamilton clip is not at {clip_path}")
    base, key = server
    frames = hamilton_frames(clip_path)
    _warm_up(base, key, cv2.imencode(".jpg", frames[0])[1].tobytes())

    live = tmp_path / "live.y4m"
    write_clip_y4m(frames, live, CLIP_FPS)
    verdict = _run_page(base, key, live, "liveness-passed.png")
    assert verdict["class"] == "verdict passed", verdict
    assert verdict["done"] == "2" and verdict["prompt"] == "Done", verdict

    still = tmp_path / "still.y4m"
    write_y4m(examples / "obama.jpg", still)
    refused = _run_page(base, key, still, "liveness-refused.png")
    assert refused["class"] == "verdict failed", refused
    assert refused["reason"] == "turn_right not done in time", refused

    h = {"Authorization": f"Bearer {key}"}
    records = httpx.get(f"{base}/v1/audit", headers=h, timeout=30).json()["records"]
    own = [r["decision"] for r in records if r["operation"] == "liveness"]
    assert any(d.startswith(f"passed {verdict['session']}") for d in own), own
    assert any(d.startswith(f"failed {refused['session']}") for d in own), own
