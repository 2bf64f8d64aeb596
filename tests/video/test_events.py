from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from facegate.video.events import (
    SIGNATURE_HEADER,
    Event,
    EventHub,
    JsonLinesSink,
    WebhookSink,
    sign,
    verify_signature,
)

SECRET = b"webhook-secret"


def event(seq: int, kind: str = "track_started") -> Event:
    return Event(kind, "s1", seq, 3, 10 * seq, seq / 10, (1.0, 2.0, 30.0, 40.0))


def test_json_lines_carry_ids_and_numbers_only() -> None:
    out = io.StringIO()
    sink = JsonLinesSink(out)
    sink.emit(Event("identified", "s1", 1, 3, 12, 0.4, None, "subj-1", 0.95, "fpir=0.01"))
    line = json.loads(out.getvalue())
    assert line == {
        "type": "identified",
        "stream_id": "s1",
        "seq": 1,
        "track_id": 3,
        "frame": 12,
        "timestamp": 0.4,
        "subject_id": "subj-1",
        "operating_point": "fpir=0.01",
        "score": 0.95,
    }


def test_signatures() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, body, 1_000)
    assert verify_signature(SECRET, body, header, now=1_010)
    assert not verify_signature(SECRET, body + b" ", header, now=1_010)
    assert not verify_signature(b"other", body, header, now=1_010)
    assert not verify_signature(SECRET, body, header, now=5_000)  # too old: a replay
    assert not verify_signature(SECRET, body, "garbage", now=1_010)


def test_hub_replays_history_to_late_subscribers() -> None:
    hub = EventHub()
    for i in range(1, 4):
        hub.emit(event(i))
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.extend(e.seq for e in hub.subscribe(0.05)))
    reader.start()
    hub.emit(event(4))
    hub.close()
    reader.join(5)
    assert seen == [1, 2, 3, 4]


class Receiver:
    """A webhook receiver on loopback that fails the first ``fail`` requests with a 503."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.valid: list[bool] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.bodies.append(body)
                outer.valid.append(verify_signature(SECRET, body, self.headers[SIGNATURE_HEADER]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def test_webhook_delivers_every_event_once_signed_with_retries(receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url, SECRET, backoff_s=0.01)
    for i in range(1, 6):
        sink.emit(event(i))
    sink.close()
    assert [json.loads(b)["seq"] for b in receiver.bodies] == [1, 2, 3, 4, 5]
    assert all(receiver.valid)
    assert sink.stats.delivered == 5 and sink.stats.retries == 2 and sink.stats.failed == 0


def test_webhook_queue_is_bounded() -> None:
    sink = WebhookSink("http://127.0.0.1:9/none", SECRET, queue_size=2, max_attempts=1)
    for i in range(50):
        sink.emit(event(i))
    sink.close(timeout_s=10)
    assert sink.stats.dropped >= 45
    assert sink.stats.delivered == 0


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError):
        WebhookSink("file:///etc/passwd", SECRET)
