from __future__ import annotations

from pathlib import Path

import pytest


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set FACEGATE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def hamilton(shared_data: Path) -> Path:
    """The 640x360 Hamilton clip (275 frames, 29.97 fps, with audio)."""
    return _need(shared_data / "video" / "short_hamilton_clip.mp4")


@pytest.fixture(scope="session")
def ytf(shared_data: Path) -> Path:
    """Three YouTube Faces clips with one annotated face per frame (boxes.csv)."""
    return _need(shared_data / "ytf_dev" / "boxes.csv").parent
