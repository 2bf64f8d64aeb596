"""Liveness settings over HTTP: a fixed challenge script, and the passive PAD in the verdict and
the audit record (the texture baseline trained here on real NUAA images)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from server_fakes import bearer

from facegate.config import LivenessConfig, ServerConfig, Settings
from facegate.errors import ConfigError
from facegate.eval.pad_data import read_pad_folder, texture_dataset
from facegate.liveness.texture import train_texture
from facegate.pipeline.engine import FaceEngine
from facegate.server.app import create_app
from facegate.server.keys import KeyStore
from facegate.server.liveness_sessions import LivenessSessions

FPS = 29.97
# Frames 80-175 of the Hamilton clip: one singer turns to his right, then to his left.
SCRIPT = LivenessConfig(
    challenges=["turn_right", "turn_left"],
    shuffle=False,
    hold_min_s=0.5,
    hold_max_s=0.5,
    ttl_s=600,  # frames take long on 2 cores; the clip's own times are sent
)


@pytest.fixture(scope="module")
def texture_model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The texture baseline trained on every fifth NUAA image of four subjects."""
    root = shared_data / "nuaa_dev"
    if not (root / "labels.csv").exists():
        pytest.skip(f"NUAA images not at {root}")
    samples = [s for s in read_pad_folder(root) if s.subject in ("0001", "0002", "0003")][::5]
    features, kept, _ = texture_dataset(FaceEngine(), samples)
    model = train_texture(features, [s.live for s in kept])
    path = tmp_path_factory.mktemp("pad") / "texture.npz"
    model.save(path)
    return path


@contextmanager
def _client(home: Path, liveness: LivenessConfig) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(home=home, server=ServerConfig(workers=1), liveness=liveness)
    store = KeyStore.open(settings.home)
    try:
        token = store.create(["admin"], ["*"], "till").token
    finally:
        store.close()
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client, token


def _run(client: TestClient, h: dict[str, str], frames: list[bytes]) -> dict[str, Any]:
    session = client.post("/v1/liveness/sessions", headers=h).json()
    assert session["challenges"] == ["turn_right", "turn_left"]
    body = session
    for k, jpeg in enumerate(frames):
        r = client.post(
            f"/v1/liveness/sessions/{session['id']}/frames",
            data={"nonce": session["nonce"], "timestamp_ms": f"{1000.0 * k / FPS:.1f}"},
            files={"image": ("f.jpg", jpeg, "image/jpeg")},
            headers=h,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] != "active":
            break
    return body


def test_a_fixed_script_is_asked_in_its_order() -> None:
    sessions = LivenessSessions.from_config(SCRIPT, Path("unused"), "dlib")
    for _ in range(5):
        _, entry = sessions.create("k")
        assert [c.value for c in entry.session.challenges] == ["turn_right", "turn_left"]
        assert entry.session.holds_s == (0.5, 0.5)
    drawn = LivenessSessions.from_config(
        LivenessConfig(challenges=["blink", "turn_left"]), Path("unused"), "dlib"
    )
    assert {c.value for c in drawn.create("k")[1].session.challenges} == {"blink", "turn_left"}


def test_liveness_settings_refuse_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="head turn"):
        LivenessConfig(challenges=["blink", "smile"])
    with pytest.raises(ValidationError, match="different"):
        LivenessConfig(challenges=["turn_left", "turn_left"])
    with pytest.raises(ValidationError, match="hold_min_s"):
        LivenessConfig(hold_min_s=2, hold_max_s=1)
    with pytest.raises(ConfigError, match="no model"):
        LivenessSessions.from_config(LivenessConfig(pad="texture"), tmp_path, "dlib")
    with pytest.raises(ConfigError, match="no PAD model"):
        LivenessSessions.from_config(LivenessConfig(pad="pack"), tmp_path, "dlib")


@pytest.mark.slow
def test_the_pad_decision_joins_the_verdict_and_the_audit_record(
    tmp_path: Path, frames: list[bytes], texture_model: Path
) -> None:
    """At a threshold every face reaches, a real session passes and the payment verify's
    audit record names the PAD method, score and threshold; at one no face reaches, the same
    frames fail the session on the PAD's word."""
    accept = SCRIPT.model_copy(
        update={"pad": "texture", "pad_model": texture_model, "pad_threshold": 0.0}
    )
    with _client(tmp_path / "a", accept) as (client, token):
        h = bearer(token)
        sid = client.post("/v1/subjects", json={"display_name": "Singer"}, headers=h).json()
        subject = sid["subject_id"]
        consent = {"purpose": "payment", "evidence": "pay-by-face form 12"}
        assert client.post(f"/v1/subjects/{subject}/consents", json=consent, headers=h).is_success
        enrol = {"image": ("e.jpg", frames[10], "image/jpeg")}
        r = client.post(
            f"/v1/subjects/{subject}/faces", data={"purpose": "payment"}, files=enrol, headers=h
        )
        assert r.status_code == 200, r.text
        verdict = _run(client, h, frames)
        assert verdict["status"] == "passed", verdict
        pad = verdict["pad"]
        assert pad["live"] is True and pad["threshold"] == 0.0
        assert pad["method"].startswith("texture-baseline:") and "@threshold=0" in pad["method"]
        r = client.post(
            "/v1/verify",
            data={
                "purpose": "payment",
                "subject_id": subject,
                "liveness_session_id": verdict["id"],
            },
            files={"image": ("p.jpg", frames[12], "image/jpeg")},
            headers=h,
        )
        assert r.status_code == 200 and r.json()["match"] is True, r.text
        records = client.get("/v1/audit", headers=h).json()["records"]
        decisions = [r["decision"] for r in records if r["operation"] == "verify"]
        assert any(
            f"liveness passed: session {verdict['id']}" in d and "pad bona fide" in d
            for d in decisions
        ), decisions
        own = [r["decision"] for r in records if r["operation"] == "liveness"]
        assert len(own) == 1 and own[0].startswith(f"passed {verdict['id']}; pad texture-"), own
        assert "bona fide" in own[0] and ">=0.000" in own[0], own

    refuse = accept.model_copy(update={"pad_threshold": 1.01})
    with _client(tmp_path / "b", refuse) as (client, token):
        h = bearer(token)
        verdict = _run(client, h, frames)
        assert verdict["status"] == "failed", verdict
        assert verdict["reason"].startswith("passive PAD: attack"), verdict
        assert verdict["pad"]["live"] is False
        records = client.get("/v1/audit", headers=h).json()["records"]
        own = [r["decision"] for r in records if r["operation"] == "liveness"]
        assert len(own) == 1 and own[0].startswith(f"failed {verdict['id']}; pad texture-"), own
        assert "attack" in own[0] and "<1.010" in own[0], own
