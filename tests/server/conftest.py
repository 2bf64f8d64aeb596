"""Server test fixtures: an app on a fake engine in a temporary data dir, and API keys."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from fastapi.testclient import TestClient  # noqa: E402
from server_fakes import FakeEngine, Keys  # noqa: E402

from facegate.config import ImageLimits, ServerConfig, Settings  # noqa: E402
from facegate.server.app import create_app  # noqa: E402
from facegate.server.keys import KeyStore  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "data",
        image=ImageLimits(max_pixels=1_000_000),
        server=ServerConfig(workers=2, queue_size=4, max_body_bytes=300_000),
    )


@pytest.fixture
def keys(settings: Settings) -> Keys:
    store = KeyStore.open(settings.home)
    try:
        admin = store.create(["admin"], ["*"], "test admin").token
        door = store.create(["identify", "enroll", "verify"], ["door"], "door").token
        detect = store.create(["detect"], [], "detect only").token
        revoked = store.create(["admin"], ["*"])
        store.revoke(revoked.key.id)
    finally:
        store.close()
    return Keys(admin, door, detect, revoked.token)


@pytest.fixture
def client(settings: Settings, keys: Keys) -> Iterator[TestClient]:
    app = create_app(settings, engine_factory=lambda: FakeEngine(settings.image))
    with TestClient(app) as test_client:
        deadline = time.monotonic() + 10
        while test_client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        yield test_client


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> list[bytes]:
    """JPEG frames 80-175 of the Hamilton clip (one singer turns right, then left)."""
    from apps_live import hamilton_frames

    out = hamilton_frames(shared_data)
    assert len(out) == 96, "the Hamilton clip ended early"
    return out
