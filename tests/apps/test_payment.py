"""The till: amount bands and operating points, the second factor, liveness, PIN, the preview."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import pytest
from gallery_fakes import CALIBRATION, FakeEngine, face_image, person_vector

from facegate.apps import NoticeText, set_notice
from facegate.apps.pay_accounts import PayAccounts, hash_pin, pin_matches
from facegate.apps.payment import (
    Capture,
    band_for,
    band_points,
    check_not_preview,
    decide,
    parse_amount,
    smooth_skin,
)
from facegate.apps.till import Till
from facegate.config import PaymentConfig
from facegate.errors import (
    ApplicationError,
    InvalidRequestError,
    LivenessRequiredError,
    StoreError,
)
from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource
from facegate.liveness.evidence import LivenessEvidence
from facegate.store.protocol import Purpose
from facegate.store.schema import PayAccountRow, utcnow
from facegate.types import DetectResult

CONFIG = PaymentConfig()


def png(person: int, variant: int = 0) -> bytes:
    return bytes(cv2.imencode(".png", face_image(person, variant)[:, :, ::-1])[1])


def evidence(person: int, variant: int = 0) -> LivenessEvidence:
    return LivenessEvidence("lv_x", True, "active-challenge-v1", "planar>=1", "test",
                            person_vector(person, variant))  # fmt: skip


class SpyEngine(FakeEngine):
    """The fake engine, remembering every image it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[ImageSource] = []

    def analyze(self, image: ImageSource) -> DetectResult:
        self.seen.append(image)
        return super().analyze(image)


@pytest.fixture
def engine() -> SpyEngine:
    return SpyEngine()


@pytest.fixture
def gallery(tmp_path: Path, engine: SpyEngine) -> Iterator[Gallery]:
    with Gallery.open(tmp_path, engine=engine) as g:
        g.define_purpose(Purpose("payment", "Pay by face at the till", utcnow()))
        set_notice(g, "payment", NoticeText("Shop Ltd", "dpo@shop.example", "PIN or QR code."))
        yield g


def payer(gallery: Gallery, person: int, digits: str, pin: str = "2468") -> str:
    subject = gallery.create_subject(f"payer {person}")
    gallery.grant_consent(subject.id, "payment", text="I agree to pay by face")
    gallery.enroll(subject.id, [png(person, 1), png(person, 2)], "payment")
    return PayAccounts(gallery).create(subject.id, digits, pin).id


def test_amounts_pick_bands_and_larger_bands_are_stricter() -> None:
    assert parse_amount("12.5") == Decimal("12.50")
    for bad in ("0", "-3", "1.234", "abc", "NaN", "1e12"):
        with pytest.raises(InvalidRequestError):
            parse_amount(bad)
    names = [band_for(Decimal(a), CONFIG).name for a in ("9.99", "50", "50.01", "499", "5000")]
    assert names == ["small", "small", "medium", "medium", "large"]
    small, medium, large = (band_points(b, CALIBRATION, 1) for b in CONFIG.bands)
    assert small.approve.name == "fmr=0.0001" and medium.approve.name == "fmr=1e-05"
    assert small.approve.threshold < medium.approve.threshold
    # narrowing to more accounts makes each comparison stricter (FPIR over k)
    assert band_points(CONFIG.bands[1], CALIBRATION, 5).approve.threshold > medium.approve.threshold
    assert decide(0.65, small) == "approve" and decide(0.65, medium) == "step-up"
    assert decide(0.45, medium) == "decline"
    assert decide(0.55, small) == "step-up" and decide(0.65, small, ambiguous=True) == "step-up"
    assert decide(0.99, large) == "step-up"  # the largest band always asks the PIN
    assert decide(None, small) == "decline"


def test_the_second_factor_and_the_pin_are_never_stored_in_clear(gallery: Gallery) -> None:
    account = payer(gallery, 1, "4821", "135790")
    with gallery.audit.transactions.read() as s:
        row = s.get(PayAccountRow, account)
        assert row is not None
        assert "4821" not in row.phone_tag and "135790" not in row.pin_hash
        assert row.pin_hash.startswith("scrypt$")
    accounts = PayAccounts(gallery)
    assert accounts.phone_tag("4821") == row.phone_tag != accounts.phone_tag("4822")
    assert pin_matches(row.pin_hash, "135790") and not pin_matches(row.pin_hash, "135791")
    assert hash_pin("1234") != hash_pin("1234")  # salted
    with pytest.raises(StoreError, match="already has"):
        accounts.create(accounts.get(account)[0].subject_id, "1111", "1234")
    with pytest.raises(InvalidRequestError):
        accounts.create(accounts.get(account)[0].subject_id, "12a4", "1234")


def test_face_payment_needs_liveness_and_the_notice(gallery: Gallery) -> None:
    payer(gallery, 1, "4821")
    till = Till(gallery, CONFIG, PayAccounts(gallery))
    with pytest.raises(LivenessRequiredError):
        till.pay_by_face(Capture(png(1, 3)), Decimal("5"), None, phone_last4="4821")
    with pytest.raises(LivenessRequiredError, match="not the face"):
        till.pay_by_face(Capture(png(1, 3)), Decimal("5"), evidence(2), phone_last4="4821")
    gallery.store.define_purpose(Purpose("payment2", "", utcnow()))
    other = Till(gallery, PaymentConfig(purpose="payment2"), PayAccounts(gallery))
    with pytest.raises(ApplicationError, match="no notice"):
        other.pay_by_face(Capture(png(1, 3)), Decimal("5"), evidence(1, 3), phone_last4="4821")


def test_the_second_factor_narrows_the_search(gallery: Gallery) -> None:
    alice = payer(gallery, 1, "4821")
    payer(gallery, 2, "4821")  # same digits, another face
    payer(gallery, 3, "9999")
    till = Till(gallery, CONFIG, PayAccounts(gallery))
    done = till.pay_by_face(Capture(png(1, 3)), Decimal("5"), evidence(1, 3), phone_last4="4821")
    assert done.outcome == "approve" and done.match.account_id == alice
    assert done.match.candidates == 2 and done.match.mode == "face+phone4"
    assert done.receipt["operating_point"] == "fpir=0.0001"  # fmr=1e-4 over 2 accounts
    # person 3 typing the wrong digits is compared with nobody like them: declined
    lost = till.pay_by_face(Capture(png(3, 3)), Decimal("5"), evidence(3, 3), phone_last4="4821")
    assert lost.outcome == "decline" and lost.record.subject_ref is None
    one = till.pay_by_face(Capture(png(1, 4)), Decimal("5"), evidence(1, 4), account_id=alice)
    assert one.outcome == "approve" and one.receipt["operating_point"] == "fmr=0.0001"
    with pytest.raises(InvalidRequestError):
        till.pay_by_face(Capture(png(1, 4)), Decimal("5"), evidence(1, 4))


def test_large_amounts_step_up_and_the_pin_decides(gallery: Gallery) -> None:
    alice = payer(gallery, 1, "4821", "2468")
    till = Till(gallery, CONFIG, PayAccounts(gallery))
    done = till.pay_by_face(Capture(png(1, 3)), Decimal("900"), evidence(1, 3), account_id=alice)
    assert done.outcome == "step-up" and done.receipt["amount_band"] == "large"
    assert till.pay_by_pin(alice, "1111", Decimal("900"), step_up_of=done.record)[0] == "decline"
    outcome, rec = till.pay_by_pin(alice, "2468", Decimal("900"), step_up_of=done.record)
    assert outcome == "approve" and rec.detail["method"] == "face+pin"
    outcome, rec = till.pay_by_pin(alice, "2468", Decimal("12"))  # the PIN-only path
    assert outcome == "approve" and rec.detail["method"] == "pin" and rec.operating_point is None
    ops = [r.decision for r in gallery.audit.records(operation="app.payment")]
    assert ops[0].startswith("step-up at fmr=1e-05; amount band large; method face+account")


def test_only_the_raw_frame_is_matched_never_the_preview(
    gallery: Gallery, engine: SpyEngine
) -> None:
    alice = payer(gallery, 1, "4821")
    till = Till(gallery, CONFIG, PayAccounts(gallery))
    capture = Capture(png(1, 3))
    preview = capture.preview()
    engine.seen.clear()
    done = till.pay_by_face(capture, Decimal("5"), evidence(1, 3), account_id=alice)
    assert done.outcome == "approve"
    assert engine.seen == [capture.raw]  # exactly the raw bytes, once
    assert preview not in engine.seen
    assert done.record.detail["image_sha256"] == capture.sha256
    with pytest.raises(InvalidRequestError, match="preview"):
        check_not_preview(Capture(preview), {Capture(preview).sha256})


def test_the_beauty_filter_smooths_a_real_face(examples: Path) -> None:
    rgb = np.ascontiguousarray(cv2.imread(str(examples / "obama.jpg"))[:, :, ::-1])
    smooth = smooth_skin(rgb)
    assert smooth.shape == rgb.shape
    lap = [float(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())
           for x in (rgb, smooth)]  # fmt: skip
    assert lap[1] < 0.8 * lap[0]  # visibly smoother (less fine detail)
