from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HAMILTON = DATA / "video" / "short_hamilton_clip.mp4"
YTF = DATA / "ytf_dev"
EXAMPLES = DATA / "face_recognition" / "examples"


@pytest.fixture(scope="session")
def hamilton() -> Path:
    if not HAMILTON.is_file():
        pytest.skip(f"shared data absent: {HAMILTON}")
    return HAMILTON


@pytest.fixture(scope="session")
def ytf() -> Path:
    if not (YTF / "boxes.csv").is_file():
        pytest.skip(f"shared data absent: {YTF}")
    return YTF
