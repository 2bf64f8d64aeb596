"""The check-in kiosk page in Chromium with a fake camera showing a real photo of a student.

The notice (and that nothing but presence is recorded) shows before the camera starts; a face
check-in, the teacher's check beside it on the first screen, the report; then an exam kiosk
whose camera shows a still photo: the liveness check fails and the candidate is sent to the
invigilator, not checked in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kiosk_browser import ARTIFACTS, camera_page, enrol, need_chromium, ok, real_server

NOTICE = {
    "processor": "City School",
    "contact": "dpo@school.example",
    "alternative": "Check in with your teacher; no face is needed.",
}


def _session(http: httpx.Client, cls: str, kind: str) -> str:
    now = datetime.now(UTC)
    body = {
        "title": f"{cls} today",
        "kind": kind,
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "starts_at": now.isoformat(),
        "late_after": (now + timedelta(minutes=30)).isoformat(),
        "closes_at": (now + timedelta(hours=2)).isoformat(),
    }
    return str(ok(http.post(f"/v1/apps/attendance/classes/{cls}/sessions", json=body))["id"])


@pytest.mark.slow
def test_check_in_kiosk_face_teacher_report_and_exam_liveness(
    examples: Path, tmp_path: Path
) -> None:
    need_chromium()
    train = examples / "knn_examples" / "train"
    with real_server(tmp_path / "data") as (http, key):
        ok(http.put("/v1/apps/attendance/classes/cs101", json={}))
        ok(http.put("/v1/apps/notices/attendance:cs101", json=NOTICE))
        for name, photo in (("Obama", train / "obama" / "obama.jpg"),
                            ("Kit", train / "kit_harington" / "john1.jpeg")):  # fmt: skip
            sid = enrol(http, name, "attendance:cs101", photo)
            ok(http.post("/v1/apps/attendance/classes/cs101/roster", json={"subject_id": sid}))
        lesson = _session(http, "cs101", "class")
        ok(http.put("/v1/apps/attendance/classes/final", json={"exam": True}))
        ok(http.put("/v1/apps/notices/exam:final", json=NOTICE))
        cand = enrol(http, "Obama", "exam:final", train / "obama" / "obama.jpg")
        ok(http.post("/v1/apps/attendance/classes/final/roster", json={"subject_id": cand}))
        exam = _session(http, "final", "exam")

        with camera_page(examples / "obama2.jpg", tmp_path) as (page, errors):
            page.goto(f"{http.base_url}/static/kiosk-attendance.html?session={lesson}")
            page.fill("#key-input", key)
            page.press("#key-input", "Enter")
            page.wait_for_selector("#notice-text:has-text('City School')")
            assert "no emotion, attention or behaviour analysis" in page.inner_text("#notice")
            assert page.is_visible("#use-face") and page.is_visible("#use-staff")
            page.click("#use-face")
            page.click("#capture:not([disabled])")
            page.wait_for_selector("#results li:has-text('Obama')")
            assert "checked in" in page.inner_text("#results")
            page.click("#next-person")
            page.click("#use-staff")
            assert not page.is_visible("#face-panel") and not page.is_visible("#use-face")
            page.click("#staff-rows tr:has-text('Kit') button")
            page.wait_for_selector("#results li:has-text('Kit')")
            page.wait_for_selector("#report-counts:has-text('2 present')")
            assert "staff" in page.inner_text("#report-rows")
            page.screenshot(path=str(ARTIFACTS / "kiosk-attendance.png"), full_page=True)

            # an exam with a still photo as the camera: liveness fails, nobody is checked in
            page.goto(f"{http.base_url}/static/kiosk-attendance.html?session={exam}")
            page.wait_for_selector("#candidate-box:not([hidden])")
            page.click("#use-face")
            page.click("#capture:not([disabled])")
            page.wait_for_selector("#status:has-text('liveness check failed')")
            assert "invigilator" in page.inner_text("#status")
            page.wait_for_selector("#report-counts:has-text('0 present')")
            assert errors == []
        report = ok(http.get(f"/v1/apps/attendance/sessions/{exam}/report"))
        assert report["counts"]["absent"] == 1
        records = ok(http.get("/v1/audit", params={"limit": 300}))["records"]
        checks = [r["decision"] for r in records if r["operation"] == "app.attendance"]
        assert len(checks) == 2 and any("method staff" in d for d in checks), checks
