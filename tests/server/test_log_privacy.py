"""A real ``facegate serve`` that fails on purpose never logs the request's personal data.

The database refuses every new consent (a trigger), so granting one is a 500 from deep in
SQLAlchemy, whose error would quote the INSERT's parameters: the consent text and evidence.
The server's whole log (its own and uvicorn's) must hold neither.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_server import free_port, wait_answering

from facegate.server.keys import KeyStore
from facegate.store.sql import DB_FILE_NAME

TEXT = "I agree that Zorblatt Quimby's face opens door 7"
EVIDENCE = "signed form QX-99172, desk of Ms Vantongeren"


@pytest.mark.slow
def test_a_failing_request_logs_no_consent_text(tmp_path: Path) -> None:
    home = tmp_path / "data"
    keys = KeyStore.open(home)
    token = keys.create(["admin"], ["*"], "test").token
    keys.close()
    with sqlite3.connect(home / DB_FILE_NAME) as db:
        db.execute(
            "CREATE TRIGGER refuse_consents BEFORE INSERT ON consents "
            "BEGIN SELECT RAISE(ABORT, 'consents refused by the test'); END"
        )
    port, log_path = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "FACEGATE_LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "facegate", "serve", "--port", str(port), "--workers", "1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cmd, "--data", str(home)], stdout=log, stderr=log, env=env)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        wait_answering(base, "/healthz", 90, proc)
        with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            sid = http.post("/v1/subjects", json={"display_name": "Z Q"}).json()["subject_id"]
            body = {"purpose": "door", "text": TEXT, "evidence": EVIDENCE, "method": "kiosk"}
            r = http.post(f"/v1/subjects/{sid}/consents", json=body)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    logged = log_path.read_text(errors="replace")
    assert "unhandled error" in logged  # the failure itself was logged
    for secret in (TEXT, EVIDENCE, "Zorblatt", "QX-99172"):
        assert secret not in logged, logged
