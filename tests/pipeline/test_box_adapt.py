"""Box adapters: fitting recovers a known map; pairing is one-to-one by IoU."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.pipeline.box_adapt import BoxAffine, fit_box_affine, iou_matrix, pair_boxes
from facegate.types import BBox


def test_fit_recovers_a_known_affine_despite_an_outlier() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 500, size=(50, 2))
    wh = rng.uniform(20, 200, size=(50, 2))
    source = np.concatenate([xy, xy + wh], axis=1)
    truth = BoxAffine(0.05, -0.12, 1.1, 1.3)
    target = truth.apply_array(source)
    target[0] = [0, 0, 1000, 1000]  # one wrong pair
    fitted = fit_box_affine(source, target)
    for got, want in zip(fitted.as_dict().values(), truth.as_dict().values(), strict=True):
        assert got == pytest.approx(want, abs=1e-3)


def test_apply_and_clip() -> None:
    box = BBox(10, 20, 110, 220)
    moved = BoxAffine(0.1, -0.1, 1.2, 1.1).apply(box)
    assert moved.center == pytest.approx((70.0, 100.0))
    assert (moved.width, moved.height) == pytest.approx((120.0, 220.0))
    assert BoxAffine(sx=3, sy=3).apply(box, 200, 200) == BBox(0, 0, 200, 200)
    assert BoxAffine().apply(box) == box


def test_fit_needs_pairs() -> None:
    with pytest.raises(ValueError):
        fit_box_affine(np.zeros((0, 4)), np.zeros((0, 4)))


def test_pairs_are_one_to_one_best_first() -> None:
    a = [[0, 0, 10, 10], [100, 100, 110, 110], [1, 1, 11, 11]]
    b = [[1, 1, 11, 11], [500, 500, 510, 510]]
    assert pair_boxes(a, b, min_iou=0.3) == [(2, 0)]
    assert iou_matrix(a, b).shape == (3, 2)
