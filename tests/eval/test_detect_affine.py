"""The ellipse affine: fitted on folds 1-2, it recovers faces a tight-box detector found."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facegate.eval.cache import FaceRecord
from facegate.eval.datasets import FddbImage
from facegate.eval.detect_affine import ellipse_affine_report
from facegate.eval.metrics import Ellipse


def _dataset() -> tuple[list[FddbImage], dict[Path, FaceRecord]]:
    rng = np.random.default_rng(3)
    images, records = [], {}
    for i in range(40):
        fold = 1 + i % 5
        cx, cy, r = rng.uniform(150, 350), rng.uniform(150, 350), rng.uniform(30, 80)
        ellipse = Ellipse(1.3 * r, r, np.pi / 2, cx, cy)
        # a detector whose boxes cover only the lower 60% of the face, a little to one side
        box = [cx - 0.6 * r + 0.1 * r, cy - 0.3 * r, cx + 0.6 * r + 0.1 * r, cy + 0.9 * r]
        path = Path(f"img{i}.jpg")
        images.append(FddbImage(path.stem, path, fold, (ellipse,)))
        records[path] = FaceRecord(
            500,
            500,
            np.array([box], np.float32),
            np.array([1.0], np.float32),
            np.zeros((1, 0), np.float32),
            np.full(1, np.nan, np.float32),
        )
    return images, records


def test_mapped_rate_recovers_what_the_raw_rule_misses() -> None:
    images, records = _dataset()
    report = ellipse_affine_report(images, records, 0.1)
    assert report is not None
    assert report["fitted_on_folds"] == [1, 2] and report["scored_on_folds"] == [3, 4, 5]
    assert report["raw_rate_at_0.1_fppi"] < 0.5
    assert report["mapped_rate_at_0.1_fppi"] == 1.0
    assert report["affine"]["dy"] < 0  # moved up towards the forehead


def test_needs_both_fold_sets() -> None:
    images, records = _dataset()
    assert ellipse_affine_report([im for im in images if im.fold <= 2], records, 0.1) is None
