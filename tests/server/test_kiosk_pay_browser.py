"""The till page in Chromium with a fake camera showing a still photo of a payer.

The notice shows before the camera starts, with the face, PIN and QR buttons on the first
screen; a still photo as the camera fails the liveness check (no payment, and the PIN is still
offered); the PIN path pays; after the PIN or QR is chosen the face is not offered again;
every decision is recorded. (The face path passing liveness runs over HTTP in
test_apps_e2e.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_browser import ARTIFACTS, camera_page, enrol, need_chromium, ok, real_server

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
