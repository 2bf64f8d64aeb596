"""Per-purpose liveness policy: payment and registration require it unless set otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facegate.privacy.purposes import PurposeConfig, liveness_required, purpose_dict
from facegate.store.protocol import Purpose


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("payment", True),
        ("payment:till-3", True),
        ("registration-sim", True),
        ("kyc", True),
        ("door", False),
        ("attendance:room-2", False),
        ("paymentish", False),
    ],
)
def test_default_by_name(name: str, required: bool) -> None:
    assert liveness_required(Purpose(name, "", datetime.now(UTC))) is required


def test_explicit_setting_wins_and_is_shown() -> None:
    off = PurposeConfig(name="payment", liveness_required=False).to_purpose()
    on = PurposeConfig(name="door", liveness_required=True).to_purpose()
    assert not liveness_required(off) and liveness_required(on)
    assert purpose_dict(on)["liveness_required"] is True
