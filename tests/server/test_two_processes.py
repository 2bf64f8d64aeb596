"""Two real processes on one data dir: ``facegate enroll`` and ``facegate subjects erase`` from
the command line while ``facegate serve`` runs on loopback; the server's identify sees the
enrolment and then the erasure, without a restart (the change feed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_server import free_port, wait_answering

from facegate.server.keys import KeyStore

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "facegate", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FACEGATE_LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 0, done.stderr
    return done


def test_cli_enrol_and_erase_reach_a_running_server(tmp_path: Path, examples: Path) -> None:
    home = tmp_path / "data"
    keys = KeyStore.open(home)
    token = keys.create(["admin"], ["*"], "test").token
    keys.close()
    people = tmp_path / "people" / "Barack"
    people.mkdir(parents=True)
    shutil.copy(examples / "obama.jpg", people / "obama.jpg")
    probe = (examples / "obama2.jpg").read_bytes()

    port = free_port()
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    cmd = [sys.executable, "-m", "facegate", "serve", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "FACEGATE_LOG_LEVEL": "WARNING"}
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([*cmd, "--data", str(home)], stdout=log, stderr=log, env=env)
    try:
        wait_answering(base, "/readyz", 180, proc)
        with httpx.Client(base_url=base, headers=auth, timeout=120) as http:
            policy = {"legal_basis": "explicit-consent"}
            assert http.put("/v1/purposes/door", json=policy).status_code == 200

            def who() -> dict[str, object]:
                files = {"image": ("probe.jpg", probe, "image/jpeg")}
                r = http.post("/v1/identify", data={"purpose": "door"}, files=files)
                assert r.status_code == 200, r.text
                face: dict[str, object] = r.json()["faces"][0]
                return face

            assert who()["subject"] is None  # the server's door index is loaded, and empty
            _cli(
                "enroll", "--from-dir", str(people.parent), "--purpose", "door",
                "--consent-evidence", "signed form 1", "--data", str(home),
            )  # fmt: skip
            found = who()
            assert found["subject"] == "Barack"
            _cli("subjects", "erase", str(found["subject_id"]), "--yes", "--data", str(home))
            assert who()["subject"] is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
