"""The door kiosk page in Chromium with a fake camera showing a real photo of a resident.

The notice shows before the camera starts; the face opens the door; "card or PIN" sits beside
the face button on the first screen and, once chosen, the face path is gone for that person;
a wrong PIN keeps the door closed; every passage is an audit record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kiosk_browser import ARTIFACTS, camera_page, enrol, need_chromium, ok, real_server

NOTICE = {
    "processor": "Block 7 housing co-op",
    "contact": "privacy@block7.example",
    "alternative": "Use your key card or PIN at the same door.",
}


@pytest.mark.slow
def test_door_kiosk_face_card_and_refusal(examples: Path, tmp_path: Path) -> None:
    need_chromium()
    with real_server(tmp_path / "data") as (http, key):
        ok(http.put("/v1/apps/access/sites/block-7", json={"description": "Block 7, main door"}))
        ok(http.put("/v1/apps/notices/access:block-7", json=NOTICE))
        resident = enrol(http, "Resident A", "access:block-7", examples / "obama.jpg")
        card = {"subject_id": resident, "kind": "card", "value": "04:A3:2B:91"}
        ok(http.post("/v1/apps/access/sites/block-7/credentials", json=card))
        with camera_page(examples / "obama2.jpg", tmp_path) as (page, errors):
            page.goto(f"{http.base_url}/static/kiosk-access.html?site=block-7")
            page.fill("#key-input", key)
            page.press("#key-input", "Enter")
            page.wait_for_selector("#notice-text:has-text('Block 7 housing co-op')")
            assert "key card or PIN" in page.inner_text("#notice-refuse")
            assert page.is_visible("#use-face") and page.is_visible("#use-card")

            page.click("#use-face")
            page.click("#capture:not([disabled])")
            page.wait_for_selector("#door-state:has-text('OPEN')")
            assert page.inner_text("#door-reason") == "Welcome."
            page.screenshot(path=str(ARTIFACTS / "kiosk-access-open.png"), full_page=True)

            page.click("#next-person")
            page.click("#use-card")
            assert not page.is_visible("#use-face") and not page.is_visible("#face-panel")
            page.fill("#cred-value", "04:A3:2B:91")
            page.click("#cred-submit")
            page.wait_for_selector("#door-state:has-text('OPEN')")
            assert not page.is_visible("#use-face")  # no second prompt for the face

            page.click("#next-person")
            page.click("#use-card")
            page.select_option("#cred-kind", "pin")
            page.fill("#cred-value", "0000")
            page.click("#cred-submit")
            page.wait_for_selector("#door-state:has-text('CLOSED')")
            assert "not known" in page.inner_text("#door-reason")
            assert errors == []
        records = ok(http.get("/v1/audit", params={"limit": 200}))["records"]
        doors = [r["decision"] for r in records if r["operation"] == "app.access"]
        assert sorted(d.split(";")[0] for d in doors) == ["deny", "open", "open at fpir=0.01"]
        assert any("method card" in d for d in doors)
