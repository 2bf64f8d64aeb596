"""Payment at a till: the policy (amount bands, operating points, approve / step up / decline),
the captured frame and its beauty-filter preview.

The operating point depends on the amount: each :class:`~facegate.config.PaymentBand` names
the point at or above which the face alone approves and a looser one above which the PIN is
asked as well (step-up); below it the payment is declined. Larger amounts use stricter points,
and the largest band can ask the PIN even on a strong match. When the payer's second factor
(the last 4 digits of a phone number) narrows the search to ``k`` accounts, a band's
``fmr=X`` is applied as a false-positive identification rate ``X`` over those ``k``
comparisons (the per-comparison rate is about ``X / k``): the chance that anyone else's face
passes stays ``X`` however many accounts share the digits. 1:1 against one account uses
``fmr=X`` as it is.

The preview: face-pay screens show the payer a skin-smoothed picture of themselves.
:class:`Capture` holds the frame as the camera gave it; :meth:`Capture.preview` makes the
smoothed copy for display, and the till matches :attr:`Capture.raw` only. A submitted frame
that is a preview facegate issued is refused (:func:`check_not_preview`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import cv2
import numpy as np

from facegate.config import ImageLimits, PaymentBand, PaymentConfig
from facegate.errors import InvalidRequestError
from facegate.imageio import decode
from facegate.pipeline.calibration import Calibration, parse_operating_point
from facegate.types import ImageArray, OperatingPoint

MAX_AMOUNT = Decimal("1000000000")


def parse_amount(text: str) -> Decimal:
    """A positive amount with at most 2 decimals (``"12.50"``)."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidRequestError(f"bad amount {text!r}: use digits, e.g. 12.50") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidRequestError(f"the amount must be above 0 and at most {MAX_AMOUNT}")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidRequestError("the amount has at most 2 decimals")
    return amount.quantize(Decimal("0.01"))


def band_for(amount: Decimal, config: PaymentConfig) -> PaymentBand:
    """The first band whose ``up_to`` holds ``amount`` (the last band takes the rest)."""
    for band in config.bands:
        if band.up_to is None or amount <= band.up_to:
            return band
    return config.bands[-1]


@dataclass(frozen=True, slots=True)
class BandPoints:
    """A band's operating points resolved for a search over ``candidates`` accounts."""

    band: PaymentBand
    approve: OperatingPoint
    step_up: OperatingPoint | None
    candidates: int


def _point(calibration: Calibration, name: str, candidates: int) -> OperatingPoint:
    kind, rate = parse_operating_point(name)
    if kind != "fmr":
        raise InvalidRequestError(f"payment bands use fmr operating points, not {name!r}")
    if candidates <= 1:
        return calibration.operating_point(name)
    return calibration.operating_point(f"fpir={rate:g}", candidates)


def band_points(band: PaymentBand, calibration: Calibration, candidates: int) -> BandPoints:
    approve = _point(calibration, band.approve, candidates)
    step = _point(calibration, band.step_up, candidates) if band.step_up else None
    return BandPoints(band, approve, step, candidates)


def decide(similarity: float | None, points: BandPoints, ambiguous: bool = False) -> str:
    """``approve``, ``step-up`` or ``decline`` for the best candidate's ``similarity``.

    ``ambiguous``: a second account also reaches the step-up point; the face alone cannot
    tell them apart, so the PIN decides (at most a step-up)."""
    if similarity is None:
        return "decline"
    if similarity >= points.approve.threshold:
        return "step-up" if points.band.always_step_up or ambiguous else "approve"
    if points.step_up is not None and similarity >= points.step_up.threshold:
        return "step-up"
    return "decline"


def smooth_skin(pixels: ImageArray, strength: float = 0.7) -> ImageArray:
    """The beauty filter of a face-pay preview: edge-preserving smoothing (bilateral), blended
    with the original. For display only."""
    smooth = cv2.bilateralFilter(np.ascontiguousarray(pixels), 9, 60, 7)
    blended = cv2.addWeighted(smooth, strength, pixels, 1.0 - strength, 0)
    return np.ascontiguousarray(blended)


@dataclass(frozen=True, slots=True)
class Capture:
    """A frame from the till's camera: ``raw`` is what the till matches, nothing else."""

    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def preview(self, limits: ImageLimits | None = None) -> bytes:
        """The smoothed copy for the payer's screen (JPEG)."""
        rgb = decode(self.raw, limits)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(smooth_skin(rgb), cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover - OpenCV encodes any 8-bit RGB image
            raise InvalidRequestError("could not encode the preview")
        return bytes(buf)


def check_not_preview(capture: Capture, issued: set[str]) -> None:
    """Refuse a frame that is one of the previews issued (SHA-256 in ``issued``)."""
    if capture.sha256 in issued:
        raise InvalidRequestError(
            "this image is the beauty-filter preview; send the camera's raw frame"
        )
