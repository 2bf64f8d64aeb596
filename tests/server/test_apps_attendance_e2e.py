"""Attendance and exam check-in end to end over HTTP with the real engine on real photos.

A class: a roster from the face_recognition example photos, a check-in window, check-ins by
face from other photos of the same people, a teacher's check (the alternative), someone
absent, a check-in after the window refused, the report as JSON, CSV and HTML, a request for
emotion analysis refused, and the audit records. An exam (slow): a candidate without liveness
refused, one with a passed liveness session (a real clip) checked in, an impostor sent to
review, and the invigilator's decision.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from apps_e2e import bearer, enrol, post_image, problem, real_app
from fastapi.testclient import TestClient

from facegate.liveness.challenges import Challenge
from facegate.liveness.session import SessionPolicy

NOTICE = {
    "processor": "City School",
    "contact": "dpo@school.example",
    "alternative": "Tell your teacher at the door; they tick you in. No face is needed.",
}


def _window(client: TestClient, h: dict[str, str], cls: str, start: datetime) -> str:
    body = {
        "title": "Lecture 3",
        "opens_at": (start - timedelta(minutes=10)).isoformat(),
        "starts_at": start.isoformat(),
        "late_after": (start + timedelta(minutes=30)).isoformat(),
        "closes_at": (start + timedelta(hours=1)).isoformat(),
    }
    r = client.post(f"/v1/apps/attendance/classes/{cls}/sessions", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_class_check_in_report_and_refusals(tmp_path: Path, examples: Path) -> None:
    train = examples / "knn_examples" / "train"
    with real_app(tmp_path / "data") as (client, tokens):
        admin, kiosk = bearer(tokens["admin"]), bearer(tokens["kiosk"])
        assert (
            client.put("/v1/apps/attendance/classes/cs101", json={}, headers=admin).json()[
                "purpose"
            ]
            == "attendance:cs101"
        )
        assert (
            client.put("/v1/apps/notices/attendance:cs101", json=NOTICE, headers=admin).status_code
            == 200
        )
        people = {
            "Obama": train / "obama" / "obama.jpg",
            "Alex": train / "alex_lacamoire" / "img1.jpg",
            "Kit": train / "kit_harington" / "john1.jpeg",
            "Rose": train / "rose_leslie" / "img1.jpg",
        }
        ids = {
            name: enrol(client, admin, name, "attendance:cs101", p) for name, p in people.items()
        }
        for sid in ids.values():
            r = client.post(
                "/v1/apps/attendance/classes/cs101/roster", json={"subject_id": sid}, headers=admin
            )
            assert r.status_code == 201, r.text
        # emotion or attention analysis is refused outright
        now = datetime.now(UTC)
        refused = client.post(
            "/v1/apps/attendance/classes/cs101/sessions",
            json={"opens_at": now.isoformat(), "starts_at": now.isoformat(),
                  "late_after": (now + timedelta(minutes=5)).isoformat(),
                  "closes_at": (now + timedelta(hours=1)).isoformat(), "analyses": ["emotion"]},
            headers=admin,
        )  # fmt: skip
        problem(refused, 403, "prohibited-practice")
        assert "5(1)(f)" in refused.json()["detail"]

        lesson = _window(client, admin, "cs101", now)
        url = f"/v1/apps/attendance/sessions/{lesson}"
        obama = post_image(client, f"{url}/checkins", examples / "obama2.jpg", kiosk).json()
        assert [(c["subject_id"], c["status"]) for c in obama["checkins"]] == [
            (ids["Obama"], "present")
        ]
        test = examples / "knn_examples" / "test" / "alex_lacamoire1.jpg"
        alex = post_image(client, f"{url}/checkins", test, kiosk).json()["checkins"]
        assert (ids["Alex"], "present") in [(c["subject_id"], c["status"]) for c in alex]
        stranger = post_image(client, f"{url}/checkins", examples / "biden.jpg", kiosk).json()
        assert [c["status"] for c in stranger["checkins"]] == ["unknown"]
        # the alternative: the teacher ticks Kit in
        r = client.post(f"{url}/staff-checkins", json={"subject_id": ids["Kit"]}, headers=kiosk)
        assert r.status_code == 200 and r.json()["status"] == "present", r.text

        report = client.get(f"{url}/report", headers=kiosk).json()
        status = {row["display_name"]: (row["status"], row["method"]) for row in report["rows"]}
        assert status == {
            "Alex": ("present", "face"), "Kit": ("present", "staff"),
            "Obama": ("present", "face"), "Rose": ("absent", None),
        }  # fmt: skip
        rows = list(
            csv.DictReader(io.StringIO(client.get(f"{url}/report?format=csv", headers=kiosk).text))
        )
        assert {r["display_name"]: r["status"] for r in rows}["Rose"] == "absent"
        page = client.get(f"{url}/report?format=html", headers=kiosk)
        assert page.headers["content-type"].startswith("text/html") and "3 present" in page.text

        # a window in the past: the check-in is refused and recorded
        old = _window(client, admin, "cs101", now - timedelta(hours=3))
        problem(post_image(client, f"/v1/apps/attendance/sessions/{old}/checkins",
                           examples / "obama2.jpg", kiosk), 409, "store")  # fmt: skip
        problem(
            client.get(f"{url}/report", headers=bearer(tokens["other"])), 403, "permission-denied"
        )

        records = client.get("/v1/audit?limit=500", headers=admin).json()["records"]
        checks = [r["decision"] for r in records if r["operation"] == "app.attendance"]
        assert sum(d.startswith("present") for d in checks) == 3, checks
        assert any("method staff" in d for d in checks) and any(
            d.startswith("refused") for d in checks
        )
        assert sum(r["operation"] == "identify" for r in records) >= 3


# ----------------------------------------------------------------------------- exams (slow)

FPS = 29.97


def _hamilton(shared_data: Path) -> list[bytes]:
    path = shared_data / "video" / "short_hamilton_clip.mp4"
    if not path.exists():
        pytest.skip(f"the Hamilton clip is not at {path}")
    cap = cv2.VideoCapture(str(path))
    out = []
    for index in range(176):
        ok, bgr = cap.read()
        assert ok
        if index >= 80:
            out.append(cv2.imencode(".jpg", bgr)[1].tobytes())
    cap.release()
    return out


def _liveness(client: TestClient, h: dict[str, str], frames: list[bytes]) -> str:
    session = client.post("/v1/liveness/sessions", headers=h).json()
    body: dict[str, object] = {}
    for k, jpeg in enumerate(frames):
        r = client.post(
            f"/v1/liveness/sessions/{session['id']}/frames",
            data={"nonce": session["nonce"], "timestamp_ms": f"{1000.0 / FPS * k:.1f}"},
            files={"image": ("f.jpg", jpeg, "image/jpeg")},
            headers=h,
        )
        body = r.json()
        if body["status"] != "active":
            break
    assert body["status"] == "passed", body
    return str(session["id"])


@pytest.mark.slow
def test_exam_check_in_with_liveness_and_review(
    tmp_path: Path, examples: Path, shared_data: Path
) -> None:
    frames = _hamilton(shared_data)
    with real_app(tmp_path / "data") as (client, tokens):
        admin = bearer(tokens["admin"])
        services = client.app.state.services  # type: ignore[attr-defined]
        # the server draws challenges at random; this clip shows a turn right, then left
        services.liveness.draw = lambda: ((Challenge.TURN_RIGHT, Challenge.TURN_LEFT), (0.3, 0.8))
        # frames take long on 2 cores (the deadline) and carry the clip's timestamps, sent as
        # fast as the server answers, which can run ahead of real time on a quiet machine
        services.liveness.policy = SessionPolicy(ttl_s=900, clock_skew_s=900)
        r = client.put("/v1/apps/attendance/classes/final", json={"exam": True}, headers=admin)
        assert r.json()["purpose"] == "exam:final", r.text
        client.put("/v1/apps/notices/exam:final", json=NOTICE, headers=admin)
        singer_photo = tmp_path / "singer.jpg"
        singer_photo.write_bytes(frames[10])
        singer = enrol(client, admin, "Candidate S", "exam:final", singer_photo)
        other = enrol(client, admin, "Candidate O", "exam:final", examples / "obama.jpg")
        for sid in (singer, other):
            client.post(
                "/v1/apps/attendance/classes/final/roster", json={"subject_id": sid}, headers=admin
            )
        exam = _window(client, admin, "final", datetime.now(UTC))
        url = f"/v1/apps/attendance/sessions/{exam}/exam-checkins"
        # refused: no liveness session
        problem(
            post_image(client, url, frames[12], admin, subject_id=singer), 409, "liveness-required"
        )
        ok = post_image(client, url, frames[12], admin, subject_id=singer,
                        liveness_session_id=_liveness(client, admin, frames))  # fmt: skip
        assert ok.status_code == 200 and ok.json()["status"] == "present", ok.text
        # the live person claims to be the other candidate: review, not an automatic refusal
        swap = post_image(client, url, frames[14], admin, subject_id=other,
                          liveness_session_id=_liveness(client, admin, frames))  # fmt: skip
        assert swap.json()["status"] == "review", swap.text
        case = swap.json()["review_case"]
        queue = client.get("/v1/apps/attendance/reviews", headers=admin).json()["reviews"]
        assert [c["id"] for c in queue] == [case] and queue[0]["subject_id"] == other
        verdict = {"accept": False, "note": "not the candidate"}
        r = client.post(f"/v1/apps/attendance/reviews/{case}", json=verdict, headers=admin)
        assert r.json()["status"] == "rejected", r.text
        report = client.get(f"/v1/apps/attendance/sessions/{exam}/report", headers=admin).json()
        assert {row["subject_id"]: row["status"] for row in report["rows"]} == {
            singer: "present", other: "absent",
        }  # fmt: skip
        records = client.get("/v1/audit?limit=500", headers=admin).json()["records"]
        exams = [r["decision"] for r in records if r["operation"] == "app.attendance"]
        assert any(d.startswith("present at fmr=") and "liveness passed" in d for d in exams), exams
        assert any(d.startswith("review at fmr=") for d in exams), exams
        refused = [(r["operation"], r["decision"]) for r in records if "refused" in r["decision"]]
        assert ("verify.exam", "refused: liveness-required (409)") in refused, refused
