"""Privacy test fixtures: a gallery on the fake engine with a clock the test moves."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

_STORE_TESTS = str(Path(__file__).resolve().parents[1] / "store")
if _STORE_TESTS not in sys.path:
    sys.path.insert(0, _STORE_TESTS)

from gallery_fakes import FakeEngine  # noqa: E402

from facegate.gallery.service import Gallery  # noqa: E402


class FakeClock:
    """A controllable clock: ``now()`` stands still until the test calls ``advance``."""

    def __init__(self, start: datetime = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gallery(tmp_path: Path, clock: FakeClock) -> Iterator[Gallery]:
    with Gallery.open(tmp_path / "data", engine=FakeEngine(), clock=clock) as opened:
        yield opened
