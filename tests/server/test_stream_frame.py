"""``GET /v1/streams/{id}/frame``: the latest processed frame of a stream and its tracks."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_fakes import Keys, bearer

from facegate.config import Settings


@pytest.mark.slow
def test_the_latest_frame_comes_with_its_tracks(
    client: TestClient, keys: Keys, settings: Settings, shared_data: Path
) -> None:
    clip = shared_data / "ytf_dev" / "Aaron_Guiel" / "Aaron_Guiel5.avi"
    if not clip.is_file():
        pytest.skip(f"shared data absent: {clip}")
    (settings.home / "media").mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, settings.home / "media" / clip.name)
    h = bearer(keys.door)
    assert client.put("/v1/purposes/door", json={}, headers=bearer(keys.admin)).status_code == 200
    r = client.post("/v1/streams", json={"source": clip.name, "purpose": "door"}, headers=h)
    assert r.status_code == 201, r.text
    stream_id = r.json()["id"]
    deadline = time.monotonic() + 300
    while client.get(f"/v1/streams/{stream_id}", headers=h).json()["state"] == "running":
        assert time.monotonic() < deadline, "the stream did not end"
        time.sleep(0.2)
    r = client.get(f"/v1/streams/{stream_id}/frame", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    meta = json.loads(r.headers["x-facegate-frame"])
    assert meta["index"] == 131 and (meta["width"], meta["height"]) == (320, 240)
    assert meta["state"] == "ended"
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    for track in meta["tracks"]:
        x1, y1, x2, y2 = track["box"]
        assert isinstance(track["track_id"], int) and x2 > x1 and y2 > y1
    assert (
        client.get(f"/v1/streams/{stream_id}/frame", headers=bearer(keys.detect)).status_code == 403
    )
    missing = client.get("/v1/streams/st_nope/frame", headers=h)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
