"""Access control over a real gallery (fake engine): sites, schedules, passes, webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.apps import NoticeText, set_notice
from facegate.apps.access_service import AccessControl
from facegate.apps.hashing import image_sha256
from facegate.errors import (
    ApplicationError,
    AppRecordNotFoundError,
    InvalidRequestError,
    StoreError,
)
from facegate.gallery.service import Gallery
from facegate.privacy.audit import Actor
from facegate.store.schema_apps import AccessCredentialRow
from facegate.video.events import SIGNATURE_HEADER, verify_signature

NOTICE = NoticeText("Block 7 housing co-op", "privacy@block7.example", "Use your key card or PIN.")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    """A loopback door controller that keeps every signed body it gets."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, str]] = []
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append((body, self.headers[SIGNATURE_HEADER]))
                self.send_response(204)
                self.end_headers()
                outer.got.set()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/door"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gallery(tmp_path: Path, clock: Clock) -> Iterator[Gallery]:
    with Gallery.open(tmp_path, engine=FakeEngine(), clock=clock) as g:
        yield g


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


def _resident(gallery: Gallery, purpose: str, person: int) -> str:
    subject = gallery.create_subject(f"resident {person}")
    gallery.grant_consent(subject.id, purpose, evidence="signed form")
    gallery.enroll(subject.id, [face_image(person)], purpose)
    return subject.id


def test_door_decisions_by_face_and_card_with_signed_webhook(
    gallery: Gallery, clock: Clock, receiver: Receiver
) -> None:
    control = AccessControl(gallery)
    site, secret = control.define_site(
        "block-7", timezone="Europe/Berlin", webhook_url=receiver.url
    )
    assert site.purpose == "access:block-7" and secret
    with pytest.raises(ApplicationError, match="no notice"):
        control.check_face("block-7", face_image(1))
    set_notice(gallery, site.purpose, NOTICE)
    ann = _resident(gallery, site.purpose, 1)
    control.add_window("block-7", "mon-fri 07:00-19:00")  # Berlin time: 09:00 now
    control.add_credential("block-7", ann, "card", "04:A3:2B:91")

    opened = control.check_face("block-7", face_image(1, variant=3), actor=Actor("k1"))
    assert (opened.open, opened.reason, opened.subject_id) == (True, "allowed", ann)
    stranger = control.check_face("block-7", face_image(77))
    assert (stranger.open, stranger.alerts) == (False, ("stranger",))
    two = control.check_face("block-7", face_image(1, variant=4, faces=2))
    assert (two.open, two.reason, two.alerts) == (False, "tailgating", ("tailgating", "stranger"))
    card = control.check_credential("block-7", "card", "04:A3:2B:91")
    assert (card.open, card.method, card.subject_id) == (True, "card", ann)
    assert not control.check_credential("block-7", "card", "00:00:00:00").open
    clock.now += timedelta(hours=12)  # 21:00 in Berlin
    late = control.check_credential("block-7", "card", "04:A3:2B:91")
    assert (late.open, late.reason) == (False, "outside-schedule")
    control.close()  # delivers what is queued

    bodies = [json.loads(b) for b, _ in receiver.bodies]
    assert [(b["decision"], b["reason"], b["method"]) for b in bodies] == [
        ("open", "allowed", "face"),
        ("closed", "stranger", "face"),
        ("closed", "tailgating", "face"),
        ("open", "allowed", "card"),
        ("closed", "unknown-credential", "card"),
        ("closed", "outside-schedule", "card"),
    ]
    assert all(verify_signature(secret.encode(), body, header) for body, header in receiver.bodies)
    assert not verify_signature(b"another secret", *receiver.bodies[0])
    assert "similarity" not in bodies[0] and bodies[0]["subject_id"] == ann
    assert bodies[0]["at"].endswith("+01:00")  # the site's local time

    records = control.decisions.records("access")
    assert [r.outcome for r in reversed(records)] == [
        "open",
        "deny",
        "deny",
        "open",
        "deny",
        "deny",
    ]
    assert records[-1].detail["method"] == "face" and records[2].detail["method"] == "card"
    assert records[-1].detail["image_sha256"] == image_sha256(face_image(1, variant=3))
    assert "image_sha256" not in records[2].detail
    audit = gallery.audit.records(operation="app.access")
    assert audit[0].decision == "open at fpir=0.01; method face; reason allowed"
    assert gallery.audit.verify().ok


def test_cards_and_pins_are_stored_as_keyed_hashes_only(gallery: Gallery) -> None:
    control = AccessControl(gallery)
    control.define_site("gate")
    ann = gallery.create_subject("Ann").id  # no face consent needed for a card
    control.add_credential("gate", ann, "pin", "482913")
    with pytest.raises(StoreError, match="already in use"):
        control.add_credential("gate", ann, "pin", "482913")
    with pytest.raises(InvalidRequestError):
        control.add_credential("gate", ann, "pin", "12")
    with gallery.audit.transactions.read() as s:
        digests = [r.digest for r in s.query(AccessCredentialRow)]
    assert len(digests) == 1 and "482913" not in digests[0]
    assert control.check_credential("gate", "pin", "482913").subject_id == ann
    card = control.add_credential("gate", ann, "card", "CARD-0001")
    assert control.check_credential("gate", "card", "CARD-0001").open
    control.revoke_credential("gate", card)  # lost: it stops working at once
    assert control.check_credential("gate", "card", "CARD-0001").reason == "unknown-credential"
    with pytest.raises(AppRecordNotFoundError):
        control.revoke_credential("gate", card)
    revoked = [r for r in gallery.audit.records(operation="access.credential")]
    assert [r.decision for r in revoked][-1] == "revoked"
    gallery.erase(ann)
    assert control.check_credential("gate", "pin", "482913").reason == "unknown-credential"


def test_a_visitor_pass_expires_with_its_consent(gallery: Gallery, clock: Clock) -> None:
    control = AccessControl(gallery)
    site, _ = control.define_site("lobby")
    set_notice(gallery, site.purpose, NOTICE)
    visitor = control.issue_visitor_pass(
        "lobby", "Visitor", [face_image(5)], 2, host="Ann (flat 12)", consent_text="I agree..."
    )
    assert visitor.expires_at == clock.now + timedelta(hours=2) and visitor.templates == 1
    assert control.check_face("lobby", face_image(5, variant=1)).subject_id == visitor.subject.id
    clock.now += timedelta(hours=2, minutes=1)
    after = control.check_face("lobby", face_image(5, variant=1))
    assert (after.open, after.reason) == (False, "stranger")
    with pytest.raises(InvalidRequestError):
        control.issue_visitor_pass("lobby", "V", [face_image(6)], 0, host="x", consent_text="t")
    with pytest.raises(AppRecordNotFoundError):
        control.check_face("nowhere", face_image(5))


def test_a_gate_fed_from_stream_events(gallery: Gallery) -> None:
    from facegate.apps.access_stream import StreamGate
    from facegate.video.events import Event

    control = AccessControl(gallery)
    site, _ = control.define_site("gate")
    with pytest.raises(ApplicationError, match="no notice"):
        StreamGate(control, "gate")
    set_notice(gallery, site.purpose, NOTICE)
    ann = _resident(gallery, site.purpose, 1)
    gate = StreamGate(control, "gate")
    box = (0.0, 0.0, 100.0, 100.0)

    def event(kind: str, track: int, subject: str | None = None, seq: int = 0) -> Event:
        return Event(kind, "cam", seq, track, seq, seq / 30, box, subject, 0.8, "fpir=0.01")

    gate.emit(event("track_started", 1))
    gate.emit(event("identified", 1, ann))
    gate.emit(event("track_started", 2))  # a second person walks in behind
    gate.emit(event("unknown", 2))
    gate.emit(event("track_left", 1))
    gate.emit(event("track_left", 2))
    gate.emit(event("track_started", 3))
    gate.emit(event("unknown", 3))
    assert [(d.open, d.reason, d.alerts) for d in gate.decisions] == [
        (True, "allowed", ()),
        (False, "tailgating", ("tailgating", "stranger")),
        (False, "stranger", ("stranger",)),
    ]
    assert [r.outcome for r in control.decisions.records("access")] == ["deny", "deny", "open"]
