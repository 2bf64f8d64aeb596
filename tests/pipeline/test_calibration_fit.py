"""Fitting calibrations from impostor embeddings, and deployment calibrations overriding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facegate.errors import ConfigError
from facegate.pipeline.calibration import deployment_calibration_path, load_pack_calibration
from facegate.pipeline.calibration_fit import (
    fit_calibration,
    fmr_table,
    impostor_scores,
    min_people,
)


def unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_impostor_scores_are_every_pair_once_in_any_block_size() -> None:
    x = unit_rows(37)
    full = x @ x.T
    want = np.sort(full[np.triu_indices(37, k=1)].astype(np.float64))
    for block in (1, 5, 64):
        np.testing.assert_allclose(impostor_scores(x, block=block), want, atol=1e-6)


def test_fmr_table_thresholds_pass_exactly_that_fraction() -> None:
    scores = np.sort(np.random.default_rng(1).random(100_000))
    table = fmr_table(scores)
    assert [round(f, 6) for f, _ in table[:1]] == [0.1] and len(table) == 11  # to 3.2e-4
    for fmr, threshold in table:
        assert abs((scores >= threshold).mean() - fmr) <= 0.01 * fmr + 5 / len(scores)


def test_fit_needs_enough_people_and_names_its_kind() -> None:
    with pytest.raises(ConfigError, match=f"at least {min_people()} different people"):
        fit_calibration(unit_rows(min_people() - 1), "dlib", "test")
    calibration, stats = fit_calibration(unit_rows(200), "dlib", "test")
    assert calibration.label == "dlib:deployment" and calibration.impostor_scores == 19_900
    point = calibration.operating_point("fmr=1e-2")
    assert point.calibration == "dlib:deployment" and stats["max"] < 1


def test_deployment_calibration_overrides_the_shipped_one(tmp_path: Path) -> None:
    shipped = load_pack_calibration("dlib", tmp_path)
    assert shipped.kind == "shipped" and shipped.operating_point("fmr=1e-3").calibration == (
        "dlib:shipped"
    )
    calibration, _ = fit_calibration(unit_rows(300), "dlib", "own population")
    path = deployment_calibration_path(tmp_path, "dlib")
    path.parent.mkdir()
    doc = {"pack": "dlib", "pack_id": "dlib-resnet-v1", "calibration": calibration.to_dict()}
    path.write_text(json.dumps(doc))
    own = load_pack_calibration("dlib", tmp_path)
    assert own.kind == "deployment" and own.source == "own population"
    assert own.threshold_for_fmr(1e-2) == pytest.approx(calibration.threshold_for_fmr(1e-2))
    path.write_text(json.dumps({**doc, "pack_id": "dlib-other"}))  # another embedding space
    assert load_pack_calibration("dlib", tmp_path).kind == "shipped"
    path.write_text("{broken")
    with pytest.raises(ConfigError, match="not readable"):
        load_pack_calibration("dlib", tmp_path)
