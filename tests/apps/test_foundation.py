"""Decision records with their audit record, notices and signs, attempts and the alternative."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine

from facegate.apps import (
    Attempts,
    AttemptState,
    Decision,
    DecisionLog,
    NoticeText,
    get_notice,
    require_notice,
    set_notice,
    sign_html,
    sign_text,
)
from facegate.errors import (
    ApplicationError,
    AttemptClosedError,
    AttemptNotFoundError,
    InvalidRequestError,
)
from facegate.gallery.service import Gallery
from facegate.privacy.audit import Actor
from facegate.store.protocol import Purpose
from facegate.store.schema import AppDecisionRow, utcnow


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    with Gallery.open(tmp_path, engine=FakeEngine()) as g:
        yield g


def test_a_decision_and_its_audit_record_commit_together(gallery: Gallery) -> None:
    subject = gallery.create_subject("Payer")
    log = DecisionLog.of(gallery)
    detail = {"amount_band": "large", "image_sha256": "ab" * 32}
    rec = log.record(
        Decision("payment", "payment", "approve", subject.id, "fmr=1e-05", "liveness passed", 0.8,
                 detail),
        Actor("k1"),
    )  # fmt: skip
    audit = gallery.audit.records(operation="app.payment")
    assert [a.seq for a in audit] == [rec.audit_seq]
    assert audit[0].decision == "approve at fmr=1e-05; amount band large; liveness passed"
    assert audit[0].subject_refs == (gallery.audit.subject_ref(subject.id),)
    assert audit[0].score_band == "0.8-0.9"
    assert rec.subject_ref == gallery.audit.subject_ref(subject.id)
    assert subject.id not in str(rec.to_dict())
    assert log.get(rec.id) == rec
    assert log.records("payment", subject_id=subject.id) == [rec]
    assert gallery.audit.verify().ok


def test_a_failed_write_leaves_neither_the_decision_nor_its_audit_record(
    gallery: Gallery,
) -> None:
    log = DecisionLog.of(gallery)
    before = gallery.audit.head()
    with pytest.raises(RuntimeError), gallery.store.transactions.write():
        log.record(Decision("payment", "payment", "decline"))
        raise RuntimeError("crash after the write, before the commit")
    assert gallery.audit.head() == before
    assert log.records() == []
    with gallery.store.transactions.read() as s:
        assert s.query(AppDecisionRow).count() == 0


def test_decisions_refuse_bad_names_and_non_plain_details(gallery: Gallery) -> None:
    log = DecisionLog.of(gallery)
    with pytest.raises(InvalidRequestError):
        log.record(Decision("pay ment", "payment", "approve"))
    with pytest.raises(InvalidRequestError):
        log.record(Decision("payment", "payment", "approve", detail={"x": [1]}))  # type: ignore[dict-item]
    assert log.records() == []


def test_the_alternative_names_nobody(gallery: Gallery) -> None:
    log = DecisionLog.of(gallery)
    rec = log.alternative("payment", "payment", "pin", Actor("till-1"), "at_1")
    assert rec.outcome == "alternative" and rec.subject_ref is None
    assert rec.detail == {"method": "pin", "attempt": "at_1"}
    (audit,) = gallery.audit.records(operation="app.payment")
    assert audit.subject_refs == () and audit.score_band is None
    assert audit.decision == "alternative; method pin"


def _purpose(name: str, days: int | None = 30) -> Purpose:
    return Purpose(name, "Pay at the till by face", utcnow(), retention_days=days)


def test_a_purpose_without_a_notice_processes_no_face(gallery: Gallery) -> None:
    gallery.define_purpose(_purpose("payment"))
    assert get_notice(gallery, "payment") is None
    with pytest.raises(ApplicationError, match="has no notice"):
        require_notice(gallery, "payment")
    with pytest.raises(InvalidRequestError):
        set_notice(gallery, "payment", NoticeText(" ", "x", "y"))


def test_the_notice_says_who_what_how_long_and_how_to_refuse(gallery: Gallery) -> None:
    gallery.define_purpose(_purpose("payment"))
    text = NoticeText("Corner Shop Ltd", "privacy@corner.example", "Pay by PIN or QR code.")
    saved = set_notice(gallery, "payment", text, Actor("admin"))
    assert require_notice(gallery, "payment") == saved
    body = saved.to_dict()
    assert body["processor"] == "Corner Shop Ltd"
    assert body["retention"].startswith("30 days")
    assert body["liveness_required"] is True  # a payment purpose
    assert "Pay by PIN or QR code." in body["text"] and "no penalty" in body["text"]
    assert [r.operation for r in gallery.audit.records()][-1] == "notice.define"
    sign = sign_html(saved)
    assert "Face recognition in use" in sign and "Corner Shop Ltd" in sign
    assert "privacy@corner.example" in sign_text(saved)
    # updated in place
    set_notice(gallery, "payment", NoticeText("Corner Shop <b>", "c", "PIN"))
    assert "Corner Shop &lt;b&gt;" in sign_html(require_notice(gallery, "payment"))


def test_an_attempt_after_the_alternative_never_offers_the_face_again() -> None:
    now = [0.0]
    attempts = Attempts(ttl_s=60, clock=lambda: now[0])
    a = attempts.open("payment", "payment", "k1", {"amount": "9.99"})
    assert a.face_offered and a.to_dict(("pin",))["amount"] == "9.99"
    Attempts.require(a, AttemptState.OPEN)
    a.state = AttemptState.ALTERNATIVE
    assert not a.face_offered
    with pytest.raises(AttemptClosedError, match="alternative path"):
        Attempts.require(a, AttemptState.OPEN)
    with pytest.raises(AttemptNotFoundError):
        attempts.get(a.id, "another key", "payment")
    with pytest.raises(AttemptNotFoundError):
        attempts.get(a.id, "k1", "registration")
    now[0] = 61.0
    with pytest.raises(AttemptNotFoundError):
        attempts.get(a.id, "k1", "payment")


def test_an_attempt_is_claimed_for_one_face_decision_and_reopened_on_a_refusal() -> None:
    attempts = Attempts()
    a = attempts.open("registration", "registration", "k1", {})
    with pytest.raises(InvalidRequestError), a.deciding():
        assert a.state is AttemptState.DECIDED and not a.face_offered
        with pytest.raises(AttemptClosedError, match="is decided"), a.deciding():
            pass  # a second face call at the same moment is refused
        raise InvalidRequestError("no face in the selfie")
    assert a.state is AttemptState.OPEN  # refused, not decided: the person may try again

    def preview_only() -> None:
        raise InvalidRequestError("that frame was only a preview")

    with pytest.raises(InvalidRequestError, match="preview"), a.deciding(preview_only):
        raise AssertionError("the block does not run when the check refuses")
    assert a.state is AttemptState.OPEN
    with a.deciding():
        pass
    assert a.state is AttemptState.DECIDED  # decided for good
    a.state = AttemptState.ALTERNATIVE
    with pytest.raises(AttemptClosedError, match="alternative path"), a.deciding():
        raise AssertionError("never offered the face path again")
