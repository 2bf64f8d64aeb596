"""``/v1/streams`` on a real clip and the real engine: SSE and a signed webhook see the same
events, each once; errors are problem+json."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_fakes import Keys, bearer

from facegate.config import Settings
from facegate.video.events import SIGNATURE_HEADER, Event, verify_signature

SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.signed: list[bool] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers[SIGNATURE_HEADER] or ""
                outer.signed.append(verify_signature(SECRET.encode(), body, header))
                outer.events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def media(settings: Settings, shared_data: Path) -> str:
    clip = shared_data / "ytf_dev" / "Aaron_Guiel" / "Aaron_Guiel5.avi"
    if not clip.is_file():
        pytest.skip(f"shared data absent: {clip}")
    (settings.home / "media").mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, settings.home / "media" / clip.name)
    return clip.name


def _purpose(client: TestClient, keys: Keys, name: str = "door") -> None:
    r = client.put(f"/v1/purposes/{name}", json={}, headers=bearer(keys.admin))
    assert r.status_code == 200, r.text


def _sse(client: TestClient, stream_id: str, token: str) -> list[tuple[str, dict[str, object]]]:
    events: list[tuple[str, dict[str, object]]] = []
    kind = ""
    url = f"/v1/streams/{stream_id}/events"
    with client.stream("GET", url, headers=bearer(token)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


@pytest.mark.slow
def test_sse_and_webhook_see_every_event_once(
    client: TestClient, keys: Keys, media: str, receiver: Receiver
) -> None:
    _purpose(client, keys)
    body = {
        "source": media,
        "purpose": "door",
        "policy": {"webhook": {"url": receiver.url, "secret": SECRET}},
    }
    r = client.post("/v1/streams", json=body, headers=bearer(keys.door))
    assert r.status_code == 201, r.text
    stream_id = r.json()["id"]
    seen = _sse(client, stream_id, keys.door)
    assert seen[-1][0] == "end"
    summary = seen[-1][1]["summary"]
    events = [data for kind, data in seen[:-1]]
    assert [kind for kind, _ in seen[:-1]] == [e["type"] for e in events]
    assert summary["frames"] == 132 and summary["tracks"] >= 1  # type: ignore[index]
    assert events[0]["type"] == "track_started" and events[-1]["type"] == "track_left"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    r = client.delete(f"/v1/streams/{stream_id}", headers=bearer(keys.door))
    assert r.status_code == 200 and r.json()["state"] == "ended"
    assert receiver.events == events  # every event once, in order, the same as SSE
    assert all(receiver.signed)
    late = _sse(client, stream_id, keys.door)  # a late client gets the history
    assert [data for _, data in late[:-1]] == events


def test_stream_errors(client: TestClient, keys: Keys, settings: Settings) -> None:
    _purpose(client, keys)
    h = bearer(keys.door)
    r = client.post("/v1/streams", json={"source": "/etc/passwd", "purpose": "door"}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/v1/streams", json={"source": "../x.mp4", "purpose": "door"}, headers=h)
    assert r.status_code == 422
    r = client.post("/v1/streams", json={"source": "x.mp4", "purpose": "other"}, headers=h)
    assert r.status_code == 403
    bad_policy = {"source": "x.mp4", "purpose": "door", "policy": {"max_fps": -1}}
    assert client.post("/v1/streams", json=bad_policy, headers=h).status_code == 422
    assert client.get("/v1/streams/st_nope", headers=h).status_code == 404
    assert client.get("/v1/streams/st_nope/events", headers=h).status_code == 404
    assert client.delete("/v1/streams/st_nope", headers=h).status_code == 404
    assert client.get("/v1/streams", headers=bearer(keys.detect)).status_code == 403
    assert client.get("/v1/streams", headers=h).json() == {"streams": []}


def test_live_streams_need_a_watchlist_purpose(client: TestClient, keys: Keys) -> None:
    _purpose(client, keys)
    h = bearer(keys.door)
    live = {"source": "rtsp://127.0.0.1:9/cam", "purpose": "door"}
    r = client.post("/v1/streams", json=live, headers=h)
    assert r.status_code == 403 and "not a watchlist" in r.json()["detail"]


def test_watchlist_hits_need_two_confirmers(
    client: TestClient, keys: Keys, media: str, settings: Settings
) -> None:
    r = client.put("/v1/purposes/door", json={"watchlist": True}, headers=bearer(keys.admin))
    assert r.status_code == 200 and r.json()["watchlist"] is True
    r = client.post("/v1/streams", json={"source": media, "purpose": "door"},
                    headers=bearer(keys.door))  # fmt: skip
    assert r.status_code == 201 and r.json()["watchlist"] is True
    stream_id = r.json()["id"]
    manager = client.app.state.services.streams  # type: ignore[attr-defined]
    manager.get(stream_id).hits.emit(
        Event("watchlist_hit", stream_id, 5, 2, 30, 1.0, None, None, 0.97, "fpir=0.01", "s-1")
    )
    url = f"/v1/streams/{stream_id}/hits/5/confirm"
    first = client.post(url, headers=bearer(keys.door))
    assert first.status_code == 200 and first.json()["status"] == "candidate"
    again = client.post(url, headers=bearer(keys.door))
    assert again.status_code == 403
    second = client.post(url, headers=bearer(keys.admin))
    assert second.json()["status"] == "confirmed" and second.json()["confirmations"] == 2
    hits = client.get(f"/v1/streams/{stream_id}/hits", headers=bearer(keys.door)).json()
    assert hits["hits"][0]["confirmed"] is True
    client.delete(f"/v1/streams/{stream_id}", headers=bearer(keys.door))
    records = client.get("/v1/audit?limit=200", headers=bearer(keys.admin)).json()["records"]
    confirms = [r["decision"] for r in records if r["operation"] == "watchlist.confirm"]
    assert len(confirms) == 3  # two confirmations and the refused second one by the same key
    assert sum(d.startswith("refused") for d in confirms) == 1
    use = next(r for r in records if r["operation"] == "watchlist.use")
    assert f"input {media} hits 1/1 by " in use["decision"]
