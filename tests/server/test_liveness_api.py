"""Liveness sessions over HTTP with the real engine on real frames, and the payment policy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_fakes import bearer

from facegate.config import ServerConfig, Settings
from facegate.liveness.challenges import Challenge
from facegate.liveness.session import SessionPolicy
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

PROBLEM = "application/problem+json"
FPS = 29.97


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1, queue_size=8))
    store = KeyStore.open(settings.home)
    try:
        token = store.create(["admin"], ["*"], "till").token
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        services = client.app.state.services  # type: ignore[attr-defined]
        # The server draws challenges at random; this clip shows a turn right, then left.
        services.liveness.draw = lambda: ((Challenge.TURN_RIGHT, Challenge.TURN_LEFT), (0.3, 0.8))
        # Frames take long on 2 cores (the deadline), and their timestamps are the clip's or a
        # still's, sent as fast as the server answers: on a quiet machine that is faster than
        # real time, so the clock-skew check (tested in tests/liveness/test_session.py) is
        # relaxed here; it failed a still-image session before its challenge timed out.
        services.liveness.policy = SessionPolicy(ttl_s=900, clock_skew_s=900)
        yield client, token


def _problem(r: Any, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == f"/problems/{kind}"


def _run_session(
    client: TestClient, h: dict[str, str], frames: list[bytes], step_ms: float = 1000.0 / FPS
) -> dict[str, Any]:
    r = client.post("/v1/liveness/sessions", headers=h)
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["challenges"] == ["turn_right", "turn_left"] and session["nonce"]
    body = session
    for k, jpeg in enumerate(frames):
        r = client.post(
            f"/v1/liveness/sessions/{session['id']}/frames",
            data={"nonce": session["nonce"], "timestamp_ms": f"{step_ms * k:.1f}"},
            files={"image": ("f.jpg", jpeg, "image/jpeg")},
            headers=h,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] != "active":
            break
    return body


def test_payment_verify_needs_a_passed_liveness_session(
    app_client: tuple[TestClient, str], frames: list[bytes]
) -> None:
    client, token = app_client
    h = bearer(token)
    sid = client.post("/v1/subjects", json={"display_name": "Singer"}, headers=h).json()[
        "subject_id"
    ]
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "payment", "evidence": "pay-by-face form 12"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/subjects/{sid}/faces",
        data={"purpose": "payment"},
        files={"image": ("e.jpg", frames[10], "image/jpeg")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    probe = {"image": ("p.jpg", frames[12], "image/jpeg")}
    fields = {"purpose": "payment", "subject_id": sid}

    _problem(
        client.post("/v1/verify", data=fields, files=probe, headers=h), 409, "liveness-required"
    )

    verdict = _run_session(client, h, frames)
    assert verdict["status"] == "passed", verdict
    assert (
        client.get(f"/v1/liveness/sessions/{verdict['id']}", headers=h).json()["status"] == "passed"
    )
    with_liveness = {**fields, "liveness_session_id": verdict["id"]}
    r = client.post("/v1/verify", data=with_liveness, files=probe, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["match"] is True
    # A session is evidence once.
    _problem(
        client.post("/v1/verify", data=with_liveness, files=probe, headers=h),
        409,
        "liveness-required",
    )

    records = client.get("/v1/audit", headers=h).json()["records"]
    verifies = [r["decision"] for r in records if r["operation"] == "verify"]
    assert any(d.startswith("match at") and "liveness passed" in d for d in verifies), verifies
    assert sum(d == "refused: liveness-required (409)" for d in verifies) == 2, verifies


def test_a_still_image_as_the_camera_fails(
    app_client: tuple[TestClient, str], frames: list[bytes]
) -> None:
    client, token = app_client
    h = bearer(token)
    still = [frames[10]] * 20
    verdict = _run_session(client, h, still, step_ms=200.0)  # 4 s of one picture
    assert verdict["reason"] == "turn_right not done in time"
    assert verdict["status"] == "failed", verdict
    r = client.post(
        "/v1/verify",
        data={"purpose": "payment", "subject_id": "nobody", "liveness_session_id": verdict["id"]},
        files={"image": ("p.jpg", frames[18], "image/jpeg")},
        headers=h,
    )
    _problem(r, 409, "liveness-required")
    bad = client.post(
        f"/v1/liveness/sessions/{verdict['id']}/frames",
        data={"nonce": "x", "timestamp_ms": "1"},
        files={"image": ("f.jpg", frames[0], "image/jpeg")},
        headers=h,
    )
    _problem(bad, 409, "liveness-session-closed")
    _problem(
        client.get("/v1/liveness/sessions/lv_unknown", headers=h), 404, "liveness-session-not-found"
    )
