"""A facegate app served over real HTTP on a free loopback port, in a thread of the test."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from facegate.config import ServerConfig
from facegate.server.http11 import uvicorn_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_answering(
    base: str, path: str, timeout: float, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Return once ``base + path`` answers 200; fail if ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc is None or proc.poll() is None, "facegate serve exited early"
        time.sleep(0.1)
    raise AssertionError(f"{base}{path} did not answer 200 in {timeout:g} s")


@contextmanager
def serving(app: FastAPI, server: ServerConfig | None = None) -> Iterator[str]:
    """Serve ``app`` as ``facegate serve`` does (same protocol and options) on a free loopback
    port; yields the base URL once ``/readyz`` answers 200."""
    cfg = (server or ServerConfig()).model_copy(update={"port": free_port()})
    config = uvicorn.Config(app, **uvicorn_options(cfg))
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{cfg.port}"
    try:
        wait_answering(base, "/readyz", 120)
        yield base
    finally:
        runner.should_exit = True
        thread.join(timeout=30)
