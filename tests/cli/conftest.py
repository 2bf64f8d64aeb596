"""CLI test helpers: the gallery tests' fake engine (tests/store/gallery_fakes.py) and a runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_STORE_TESTS = str(Path(__file__).resolve().parents[1] / "store")
if _STORE_TESTS not in sys.path:
    sys.path.insert(0, _STORE_TESTS)


@pytest.fixture
def fake_gallery_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gallery commands run on the fake engine (no model loads)."""
    from gallery_fakes import FakeEngine

    from facegate.cli import gallery_cmds

    monkeypatch.setattr(gallery_cmds, "_engine_for", lambda base: FakeEngine())
