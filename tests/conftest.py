"""Shared fixtures: the real face data beside the repository, and temporary data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEGATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set FACEGATE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear reason when it is absent."""
    return _need(SHARED_DATA)


@pytest.fixture(scope="session")
def examples(shared_data: Path) -> Path:
    """The face_recognition project's example photos (obama.jpg, biden.jpg, two_people.jpg...)."""
    return _need(shared_data / "face_recognition" / "examples")


@pytest.fixture(scope="session")
def lfw(shared_data: Path) -> Path:
    return _need(shared_data / "lfw")
