"""A real ``facegate serve`` process on a free loopback port: first-start admin key, enrol and
identify over HTTP with the real engine and real photos, then a clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import free_port, wait_answering


def _read_admin_key(proc: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("admin API key"):
            return line.rsplit(" ", 1)[1].strip()
    raise AssertionError("the server did not print an admin key on first start")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    env = {**os.environ, "FACEGATE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "facegate", "serve", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(
        [*cmd, "--data", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        key = _read_admin_key(proc, 60)
        base = f"http://127.0.0.1:{port}"
        wait_answering(base, "/readyz", 120, proc)
        yield base, key
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_enrol_and_identify_over_http(served: tuple[str, str], examples: Path) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        assert http.get("/v1/me").json()["scopes"] == [
            "admin",
            "detect",
            "enroll",
            "identify",
            "verify",
        ]
        sid = http.post("/v1/subjects", json={"display_name": "Barack Obama"}).json()["subject_id"]
        consent = {"purpose": "access.block-7", "evidence": "signed entry form #12"}
        assert http.post(f"/v1/subjects/{sid}/consents", json=consent).status_code == 201
        photo = (examples / "obama.jpg").read_bytes()
        enrolled = http.post(
            f"/v1/subjects/{sid}/faces",
            data={"purpose": "access.block-7"},
            files={"image": ("obama.jpg", photo, "image/jpeg")},
        )
        assert enrolled.status_code == 200, enrolled.text
        assert len(enrolled.json()["added"]) == 1

        def who(name: str) -> str | None:
            r = http.post(
                "/v1/identify",
                data={"purpose": "access.block-7"},
                files={"image": (name, (examples / name).read_bytes(), "image/jpeg")},
            )
            assert r.status_code == 200, r.text
            faces = r.json()["faces"]
            assert len(faces) == 1
            found: str | None = faces[0]["subject"]
            return found

        assert who("obama2.jpg") == "Barack Obama"
        assert who("biden.jpg") is None
        assert http.get("/v1/audit").json()["records"][0]["operation"] == "identify"
        assert "facegate_faces_processed_total" in http.get("/metrics").text
    assert httpx.get(f"{base}/v1/me", timeout=5).status_code == 401
