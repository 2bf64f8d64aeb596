"""The backend under test in the store contract suite (see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery_fakes import FakeEngine
from sqlalchemy import Engine

from facegate.gallery.service import Gallery
from facegate.store.engines import store_engine

STORE_TESTS = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True, slots=True)
class Backend:
    name: str
    home: Path
    url: str | None

    def gallery(self, **options: Any) -> Gallery:
        return Gallery.open(self.home, engine=FakeEngine(), store_url=self.url, **options)

    def engine(self) -> Engine:
        return store_engine(self.home, self.url)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "FACEGATE_STORE__URL"}
        env["PYTHONPATH"] = STORE_TESTS
        if self.url is not None:
            env["FACEGATE_STORE__URL"] = self.url
        return env


WORKER = Path(__file__).resolve().parent / "store_worker.py"


def start_worker(backend: Backend, *args: str) -> subprocess.Popen[str]:
    """``store_worker.py ARGS`` on ``backend`` in a process of its own."""
    command, *rest = args
    return subprocess.Popen(
        [sys.executable, str(WORKER), command, str(backend.home), *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=backend.env(),
    )


def run_worker(backend: Backend, *args: str) -> list[str]:
    """Run ``store_worker.py ARGS`` to the end; its output lines."""
    proc = start_worker(backend, *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out.splitlines()
