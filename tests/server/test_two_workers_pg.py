"""Two real ``facegate serve`` workers on one PostgreSQL, each with a data dir of its own (no
shared files, only the database and the master key): an enrolment through worker A is found
by an identification through worker B, an erasure through B is gone from A's next search, and
after concurrent writes through both the audit chain in PostgreSQL verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from live_server import free_port, wait_answering

from facegate.server.keys import KeyStore

pytestmark = pytest.mark.slow
MASTER_KEY = "5a" * 32


@contextmanager
def _worker(home: Path, url: str, log: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "FACEGATE_LOG_LEVEL": "WARNING",
        "FACEGATE_STORE__URL": url,
        "FACEGATE_MASTER_KEY": MASTER_KEY,
    }
    cmd = [sys.executable, "-m", "facegate", "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--data", str(home)], stdout=out, stderr=out, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_answering(base, "/readyz", 240, proc)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _identify(http: httpx.Client, probe: bytes) -> object:
    files = {"image": ("probe.jpg", probe, "image/jpeg")}
    r = http.post("/v1/identify", data={"purpose": "door"}, files=files)
    assert r.status_code == 200, r.text
    return r.json()["faces"][0]["subject"]


def _new_subject(http: httpx.Client, name: str) -> str:
    r = http.post("/v1/subjects", json={"display_name": name})
    assert r.status_code == 201, r.text
    sid: str = r.json()["subject_id"]
    consent = {"purpose": "door", "evidence": f"signed form for {name}"}
    r = http.post(f"/v1/subjects/{sid}/consents", json=consent)
    assert r.status_code == 201, r.text
    return sid


def test_two_workers_share_one_postgresql(tmp_path: Path, pg_url: str, examples: Path) -> None:
    keys = KeyStore.open(tmp_path, url=pg_url)
    token = keys.create(["admin"], ["*"], "test").token
    keys.close()
    auth = {"Authorization": f"Bearer {token}"}
    obama, probe = (examples / "obama.jpg").read_bytes(), (examples / "obama2.jpg").read_bytes()
    with ExitStack() as stack:
        a_base, b_base = (
            stack.enter_context(_worker(tmp_path / n, pg_url, tmp_path / f"{n}.log"))
            for n in ("a", "b")
        )
        a = stack.enter_context(httpx.Client(base_url=a_base, headers=auth, timeout=120))
        b = stack.enter_context(httpx.Client(base_url=b_base, headers=auth, timeout=120))
        assert (
            a.put("/v1/purposes/door", json={"legal_basis": "explicit-consent"}).status_code == 200
        )
        assert _identify(a, probe) is None and _identify(b, probe) is None  # both indexes loaded

        sid = _new_subject(a, "Barack")
        files = {"image": ("obama.jpg", obama, "image/jpeg")}
        r = a.post(f"/v1/subjects/{sid}/faces", data={"purpose": "door"}, files=files)
        assert r.status_code == 200, r.text
        assert _identify(b, probe) == "Barack"
        assert b.delete(f"/v1/subjects/{sid}").status_code in (200, 204)
        assert _identify(a, probe) is None

        with ThreadPoolExecutor(8) as pool:  # concurrent writes through both workers
            jobs = [pool.submit(_new_subject, (a, b)[n % 2], f"person {n}") for n in range(24)]
            made = [job.result() for job in jobs]
        assert len(set(made)) == 24
        for http in (a, b):
            r = http.get("/v1/audit/verify")
            assert r.status_code == 200, r.text
            assert r.json()["ok"] is True, r.json()
        listed = b.get("/v1/subjects", params={"purpose": "door"}).json()
        assert len(listed["subjects"]) == 24
