"""``make run`` and ``facegate serve`` as a new user meets them: the port can be chosen, only
what running needs is installed, a busy port is one clear line, a restart says how to get a
new admin key."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _make_dry_run(*args: str, env: dict[str, str] | None = None) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(
        ["make", "-n", "-B", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.replace("\\\n", " ").splitlines()


def _line(lines: list[str], needle: str) -> str:
    (found,) = [line for line in lines if needle in line]
    return found


def test_make_run_takes_the_port_and_installs_only_what_running_needs() -> None:
    lines = _make_dry_run("run", "PORT=8001", "HOST=0.0.0.0")
    serve = _line(lines, "facegate serve").split()
    assert serve[serve.index("--port") + 1] == "8001"
    assert serve[serve.index("--host") + 1] == "0.0.0.0"
    install = _line(lines, "pip install --quiet -e")
    assert "server" in install and "test" not in install and "eval" not in install
    # without PORT on the command line the settings decide (FACEGATE_SERVER__PORT, else 8000);
    # a HOST or PORT left in the environment by something else is not taken
    lines = _make_dry_run("run", env={"FACEGATE_SERVER__PORT": "8002", "HOST": "x", "PORT": "9"})
    serve = _line(lines, "facegate serve").split()
    assert "--port" not in serve and "--host" not in serve
    install = _line(_make_dry_run("test"), "pip install --quiet -e")
    assert "test" in install and "eval" in install and "server" in install


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_busy_port_is_one_line_and_nothing_else(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "facegate", "serve", "--port", str(port)]
            + ["--data", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stdout == ""  # no console URL, no admin key
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "gallery.db").exists()


def _lines(proc: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """The first ``count`` lines the process prints (fewer if it prints no more in time)."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stream = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        try:
            out.append(lines.get(timeout=0.2))
        except queue.Empty:
            continue
    return out + [""] * (count - len(out))


def test_restart_says_how_to_create_an_admin_key_and_env_port_is_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "facegate", "keys", "create", "--scopes", "admin"]
        + ["--purposes", "*", "--data", str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    env = {**os.environ, "FACEGATE_SERVER__PORT": str(port), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "facegate", "serve", "--workers", "1", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        printed = _lines(proc, 2, timeout=60)
        assert "admin API key (shown once" not in printed[0]
        assert (
            f"to create a new admin key: facegate keys create --scopes admin --purposes '*' "
            f"--data {data}" in printed[0]
        )
        assert printed[1].startswith(f"facegate console: http://127.0.0.1:{port}/")
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
