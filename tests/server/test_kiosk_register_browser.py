"""The registration desk page in Chromium: notice first, a still photo as the camera fails the
liveness check (nothing decided), and the staff check is recorded without the face being
offered again. (The accepted and rejected checks run over HTTP in test_apps_e2e.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from id_card import id_card, jpeg, photographed
from kiosk_browser import ARTIFACTS, camera_page, need_chromium, ok, real_server

from facegate.imageio import decode

NOTICE = {
    "processor": "Mobile Co",
    "contact": "dpo@mobile.example",
    "alternative": "Show your card to the staff at the desk instead.",
}


@pytest.mark.slow
def test_registration_page_notice_refused_liveness_and_staff(
    examples: Path, tmp_path: Path
) -> None:
    need_chromium()
    document = tmp_path / "card.jpg"
    document.write_bytes(jpeg(photographed(id_card(decode(examples / "obama.jpg"), 150))))
    with real_server(tmp_path / "data") as (http, key):
        ok(http.put("/v1/purposes/registration", json={}))
        ok(http.put("/v1/apps/notices/registration", json=NOTICE))
        with camera_page(examples / "obama2.jpg", tmp_path) as (page, errors):
            page.goto(f"{http.base_url}/static/kiosk-register.html")
            page.fill("#key-input", key)
            page.press("#key-input", "Enter")
            page.click("#start")
            page.wait_for_selector("#notice-text:has-text('Mobile Co')")
            assert "staff at the desk" in page.inner_text("#notice-refuse")
            assert page.is_visible("#use-face") and page.is_visible("#use-staff")

            page.click("#use-face")
            page.set_input_files("#document-input", str(document))
            page.click("#capture:not([disabled])")
            page.wait_for_selector("#status:has-text('liveness check failed')")
            assert not page.is_visible("#verdict")
            page.click("#face-to-staff")
            page.wait_for_selector("#staff-panel:not([hidden])")
            assert not page.is_visible("#use-face")
            page.screenshot(path=str(ARTIFACTS / "kiosk-register-staff.png"), full_page=True)
            assert errors == []
        decisions = ok(http.get("/v1/apps/decisions", params={"app": "registration"}))
        assert [d["outcome"] for d in decisions["decisions"]] == ["alternative"]
