"""The till page in Chromium with a fake camera showing a still photo of a payer.

The notice shows before the camera starts, with the face, PIN and QR buttons on the first
screen; a still photo as the camera fails the liveness check (no payment, and the PIN is still
offered); the PIN path pays; after the PIN or QR is chosen the face is not offered again;
every decision is recorded. With the Hamilton clip as the camera, the page passes the liveness
prompts and pays by face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import pytest
from kiosk_browser import ARTIFACTS, camera_page, enrol, need_chromium, ok, real_server
from live_server import serving
from test_console_browser import CHROMIUM, LAUNCH_FLAGS, playwright_api
from test_liveness_browser import CLIP_FPS, SCRIPT, hamilton_frames, write_clip_y4m

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

NOTICE = {
    "processor": "Corner Shop Ltd",
    "contact": "dpo@corner.example",
    "alternative": "Pay by PIN or QR code at this till.",
}


@pytest.mark.slow
def test_till_page_notice_refused_liveness_pin_and_qr(examples: Path, tmp_path: Path) -> None:
    need_chromium()
    with real_server(tmp_path / "data") as (http, key):
        ok(http.put("/v1/purposes/payment", json={}))
        ok(http.put("/v1/apps/notices/payment", json=NOTICE))
        payer = enrol(http, "Payer", "payment", examples / "obama.jpg")
        account = {"subject_id": payer, "phone_last4": "4821", "pin": "2468"}
        account_id = ok(http.post("/v1/apps/payment/accounts", json=account))["account_id"]
        with camera_page(examples / "obama2.jpg", tmp_path) as (page, errors):
            page.goto(f"{http.base_url}/static/kiosk-pay.html")
            page.fill("#key-input", key)
            page.press("#key-input", "Enter")
            page.fill("#amount-input", "12.50")
            page.click("#start-payment")
            page.wait_for_selector("#notice-text:has-text('Corner Shop Ltd')")
            assert "PIN or QR" in page.inner_text("#notice-refuse")
            for button in ("#use-face", "#use-pin", "#use-qr"):
                assert page.is_visible(button)
            assert page.inner_text("#amount-title") == "12.50 EUR"

            page.click("#use-face")
            page.fill("#digits-input", "4821")
            page.click("#capture:not([disabled])")
            page.wait_for_selector("#status:has-text('liveness check failed')")
            assert not page.is_visible("#verdict")  # no payment without liveness
            page.screenshot(path=str(ARTIFACTS / "kiosk-pay-liveness-failed.png"), full_page=True)

            page.click("#face-to-pin")
            page.wait_for_selector("#pin-panel:not([hidden])")
            assert not page.is_visible("#use-face") and not page.is_visible("#face-panel")
            page.fill("#account-input", account_id)
            page.fill("#pin-input", "2468")
            page.click("#pin-submit")
            page.wait_for_selector("#pay-state:has-text('APPROVED')")
            assert "pin" in page.inner_text("#receipt")
            page.screenshot(path=str(ARTIFACTS / "kiosk-pay-pin.png"), full_page=True)

            page.click("#next-payment")
            page.fill("#amount-input", "3")
            page.click("#start-payment")
            page.wait_for_selector("#use-qr")
            page.click("#use-qr")
            page.wait_for_selector("#qr-panel:has-text('QR code')")
            assert not page.is_visible("#use-face")
            assert errors == []
        decisions = ok(http.get("/v1/apps/decisions", params={"app": "payment"}))["decisions"]
        outcomes = [(d["outcome"], d["detail"].get("method")) for d in decisions]
        assert outcomes == [("alternative", "qr"), ("approve", "pin"), ("alternative", "pin")]


@pytest.mark.slow
def test_till_page_pays_by_face_with_a_live_clip(shared_data: Path, tmp_path: Path) -> None:
    """The camera plays the Hamilton clip (a singer turns right, then left: the fixed script a
    supervised till would use); the page runs the liveness prompts, shows the smoothed preview,
    sends the raw frame, and the payment goes through (or asks the PIN, which then pays)."""
    need_chromium()
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"the Hamilton clip is not at {clip}")
    frames = hamilton_frames(clip)
    camera = tmp_path / "live.y4m"
    write_clip_y4m(frames, camera, CLIP_FPS)
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1), liveness=SCRIPT)
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "till browser test").token
    store.close()
    with serving(create_app(settings), settings.server) as base:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            ok(http.put("/v1/purposes/payment", json={}))
            ok(http.put("/v1/apps/notices/payment", json=NOTICE))
            enrolment = tmp_path / "singer.jpg"
            enrolment.write_bytes(bytes(cv2.imencode(".jpg", frames[3 * CLIP_FPS + 10])[1]))
            payer = enrol(http, "Singer", "payment", enrolment)
            account = {"subject_id": payer, "phone_last4": "4821", "pin": "2468"}
            ok(http.post("/v1/apps/payment/accounts", json=account))
            args = [*LAUNCH_FLAGS, f"--use-file-for-fake-video-capture={camera}"]
            with playwright_api.sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=args
                )
                try:
                    page = browser.new_page(viewport={"width": 1100, "height": 1000})
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.set_default_timeout(120_000)
                    page.goto(f"{base}/static/kiosk-pay.html")
                    page.fill("#key-input", key)
                    page.press("#key-input", "Enter")
                    page.fill("#amount-input", "9.90")
                    page.click("#start-payment")
                    page.wait_for_selector("#notice-text:has-text('Corner Shop Ltd')")
                    page.click("#use-face")
                    page.fill("#digits-input", "4821")
                    page.click("#capture:not([disabled])")
                    page.wait_for_selector("#verdict:not([hidden]), #pin-panel:not([hidden])")
                    # The smoothed picture was shown (a step-up then hides the face panel).
                    assert page.eval_on_selector("#preview-box", "e => !e.hidden")
                    assert page.get_attribute("#preview", "src").startswith("blob:")
                    if page.is_visible("#pin-panel"):
                        page.fill("#pin-input", "2468")
                        page.click("#pin-submit")
                    page.wait_for_selector("#pay-state:has-text('APPROVED')")
                    page.screenshot(path=str(ARTIFACTS / "kiosk-pay-face.png"), full_page=True)
                    assert errors == []
                finally:
                    browser.close()
            decisions = ok(http.get("/v1/apps/decisions", params={"app": "payment"}))
            face = [d for d in decisions["decisions"] if d["detail"].get("method") == "face+phone4"]
            assert face and "liveness passed" in face[0]["liveness"]
