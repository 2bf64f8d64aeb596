from __future__ import annotations

import pytest

from facegate.errors import ConfigError
from facegate.pipeline.calibration import Calibration, load_pack_calibration, parse_operating_point

TABLE = Calibration(
    pack="test",
    fmr_table=((1e-1, 0.5), (1e-2, 0.6), (1e-3, 0.7), (1e-4, 0.8)),
    impostor_scores=1_000_000,
    source="hand-made",
)


def test_parse_operating_point() -> None:
    assert parse_operating_point("fmr=1e-4") == ("fmr", 1e-4)
    assert parse_operating_point(" FPIR=0.01 ") == ("fpir", 0.01)
    for bad in ("fmr", "fmr=abc", "far=1e-3", "fmr=0", "fmr=1.5", "fmr=-1e-3"):
        with pytest.raises(ConfigError):
            parse_operating_point(bad)


def test_threshold_for_fmr_interpolates_on_log_scale() -> None:
    assert TABLE.threshold_for_fmr(1e-2) == pytest.approx(0.6)
    assert TABLE.threshold_for_fmr(10**-2.5) == pytest.approx(0.65)
    assert TABLE.threshold_for_fmr(0.5) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="below what pack"):
        TABLE.threshold_for_fmr(1e-6)


def test_fpir_threshold_grows_with_gallery_size() -> None:
    one = TABLE.threshold_for_fpir(1e-1, 1)
    hundred = TABLE.threshold_for_fpir(1e-1, 100)
    assert one == pytest.approx(0.5)
    # FPIR 0.1 over 100 subjects needs a per-comparison FMR of about 1.05e-3.
    assert hundred == pytest.approx(TABLE.threshold_for_fmr(1 - 0.9 ** (1 / 100)))
    assert hundred > one
    # Beyond the calibrated range the highest calibrated threshold is used.
    assert TABLE.threshold_for_fpir(1e-2, 10**9) == pytest.approx(0.8)


def test_operating_point_names_are_canonical() -> None:
    point = TABLE.operating_point("fmr=0.0010")
    assert point.name == "fmr=0.001"
    assert point.threshold == pytest.approx(0.7)


def test_shipped_dlib_calibration_is_monotonic() -> None:
    cal = load_pack_calibration("dlib")
    rates = [f for f, _ in cal.fmr_table]
    thresholds = [t for _, t in cal.fmr_table]
    assert rates == sorted(rates, reverse=True)
    assert thresholds == sorted(thresholds)
    assert cal.min_fmr <= 1e-4
    assert cal.impostor_scores > 1_000_000
