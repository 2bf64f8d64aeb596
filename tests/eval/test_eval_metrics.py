"""Known-answer tests of the evaluation metrics on small hand-made score sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facegate.eval import metrics as m
from facegate.types import BBox

GEN = [0.8, 0.9, 0.5]
IMP = [0.6, 0.1, 0.2]


def test_roc_points() -> None:
    roc = m.roc_curve(GEN, IMP)
    assert roc.thresholds[0] == math.inf
    np.testing.assert_allclose(roc.thresholds[1:], [0.9, 0.8, 0.6, 0.5, 0.2, 0.1])
    np.testing.assert_allclose(roc.tar, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(roc.fmr, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(roc.fnmr, 1 - roc.tar)


def test_auc_equals_mann_whitney() -> None:
    # P(genuine > impostor): 8 of 9 pairs (0.5 < 0.6 is the only loss)
    assert m.auc(m.roc_curve(GEN, IMP)) == pytest.approx(8 / 9)
    assert m.auc(m.roc_curve([1.0, 2.0], [0.0, 0.5])) == pytest.approx(1.0)
    assert m.auc(m.roc_curve([0.5], [0.5])) == pytest.approx(0.5)  # a tie counts one half


def test_eer_at_crossing() -> None:
    rate, threshold = m.eer(GEN, IMP)
    assert rate == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.6)


def test_eer_interpolates_between_points() -> None:
    # fmr - fnmr goes from -0.5 (t=0.7) to +0.5 (t=0.4): crossing half-way
    rate, threshold = m.eer([0.7, 0.9], [0.4, 0.1])
    assert rate == pytest.approx(0.0)
    rate, threshold = m.eer([0.3, 0.9], [0.6, 0.1])
    assert rate == pytest.approx(0.5)
    assert 0.3 <= threshold <= 0.6


def test_perfect_separation() -> None:
    rate, _ = m.eer([0.9, 0.8], [0.1, 0.2])
    assert rate == 0.0


def test_threshold_and_tar_at_fmr() -> None:
    imp = np.arange(1, 11) / 10.0  # 0.1 .. 1.0
    t = m.threshold_at_fmr(imp, 0.2)  # 2 false matches allowed: 0.9 and 1.0
    assert 0.8 < t <= 0.9
    assert np.mean(imp >= t) == pytest.approx(0.2)
    assert m.threshold_at_fmr(imp, 0.29) == pytest.approx(0.8, abs=1e-9)  # floor(2.9) = 2
    assert np.mean(imp >= m.threshold_at_fmr(imp, 0.01)) == 0.0
    tar, t2 = m.tar_at_fmr([0.95, 0.85, 0.99, 0.5], imp, 0.2)
    assert t2 == t
    assert tar == pytest.approx(0.75)  # threshold just above 0.8: only 0.5 is rejected


def test_threshold_at_fmr_ties_are_conservative() -> None:
    imp = [0.5, 0.5, 0.5, 0.1]
    t = m.threshold_at_fmr(imp, 0.25)  # the 3 tied scores cannot be split: accept none
    assert np.mean(np.asarray(imp) >= t) == 0.0


def test_error_rates_at() -> None:
    assert m.error_rates_at(GEN, IMP, 0.55) == pytest.approx((1 / 3, 1 / 3))


def test_best_accuracy_threshold() -> None:
    t = m.best_accuracy_threshold([0.1, 0.2, 0.7, 0.8], [False, False, True, True])
    assert t == pytest.approx(0.45)
    t = m.best_accuracy_threshold([0.1, 0.9, 0.3, 0.4], [False, True, True, False])
    # best: accept >= 0.65 (3/4) or >= 0.2 (3/4)... highest wins
    assert t == pytest.approx(0.65)


def test_split_folds() -> None:
    folds = m.split_folds(23, 10)
    assert folds.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert np.bincount(folds).tolist() == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    with pytest.raises(ValueError):
        m.split_folds(5, 10)


def _ten_folds() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    folds = np.repeat(np.arange(10), 4)
    same = np.tile([True, True, False, False], 10)
    scores = np.where(same, 0.8, 0.2).astype(np.float64)
    return scores, same, folds


def test_kfold_accuracy_known_answer() -> None:
    scores, same, folds = _ten_folds()
    scores[3 * 4] = 0.1  # fold 3: one genuine pair scores below every impostor
    res = m.kfold_accuracy(scores, same, folds)
    expected = np.ones(10)
    expected[3] = 0.75
    np.testing.assert_allclose(res.accuracies, expected)
    assert res.mean == pytest.approx(0.975)
    assert res.std == pytest.approx(np.std(expected))
    assert res.standard_error == pytest.approx(np.std(expected) / math.sqrt(10))
    assert np.all((res.thresholds > 0.2) & (res.thresholds < 0.8))


def test_kfold_invalid_pairs_count_as_errors() -> None:
    scores, same, folds = _ten_folds()
    valid = np.ones_like(same)
    valid[[0, 2]] = False  # fold 0: one genuine and one impostor pair could not be scored
    res = m.kfold_accuracy(scores, same, folds, valid)
    assert res.accuracies[0] == pytest.approx(0.5)
    assert res.mean == pytest.approx(0.95)


def test_mate_ranks_and_cmc() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.2],  # mate 0 at rank 1
            [0.5, 0.4, 0.6],  # mate 1 at rank 3
            [0.3, 0.7, 0.2],  # mate 0 at rank 2
        ]
    )
    ranks = m.mate_ranks(scores, [0, 1, 0])
    assert ranks.tolist() == [1, 3, 2]
    np.testing.assert_allclose(m.cmc(ranks, 3), [1 / 3, 2 / 3, 1.0])


def test_fnir_at_fpir() -> None:
    mate_scores = [0.9, 0.8, 0.7, 0.4]
    ranks = [1, 1, 2, 1]  # the 0.7 mate is beaten by another subject
    nonmated_top = np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.75, 0.2, 0.3, 0.1, 0.05])
    # FPIR 0.1: one non-mated search (0.75) may return someone -> threshold just above 0.6
    fnir, t = m.fnir_at_fpir(mate_scores, ranks, nonmated_top, 0.1)
    assert 0.6 < t <= 0.75
    assert fnir == pytest.approx(0.5)  # 0.7 is rank 2, 0.4 is under the threshold
    fnir0, _ = m.fnir_at_fpir(mate_scores, ranks, nonmated_top, 0.0)  # above 0.75
    assert fnir0 == pytest.approx(0.5)
    fnir_r2 = m.fnir_at_threshold(mate_scores, ranks, 0.65, rank=2)
    assert fnir_r2 == pytest.approx(0.25)
    fpir, fnir_curve = m.open_set_curve(mate_scores, ranks, nonmated_top)
    assert fpir[0] == pytest.approx(0.1) and fpir[-1] == pytest.approx(1.0)
    assert np.all(np.diff(fnir_curve) <= 0)


def test_ellipse_geometry() -> None:
    circle = m.Ellipse(10.0, 10.0, 0.0, 50.0, 50.0)
    assert circle.area == pytest.approx(math.pi * 100)
    tall = m.Ellipse(20.0, 10.0, math.pi / 2, 0.0, 0.0)  # major axis vertical
    box = tall.bbox()
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((-10, -20, 10, 20))
    assert tall.contains(np.array([0.0, 0.0, 15.0]), np.array([0.0, 19.0, 0.0])).tolist() == [
        True,
        True,
        False,
    ]


def test_ellipse_box_overlap() -> None:
    circle = m.Ellipse(10.0, 10.0, 0.3, 50.0, 50.0)
    # circle inscribed in its square: pi r^2 / (2r)^2
    assert m.ellipse_box_overlap(circle, BBox(40, 40, 60, 60)) == pytest.approx(
        math.pi / 4, abs=0.01
    )
    assert m.ellipse_box_overlap(circle, BBox(100, 100, 120, 120)) == 0.0
    # a small box inside the circle: box area over circle area
    small = BBox(48, 48, 52, 52)
    assert m.ellipse_box_overlap(circle, small) == pytest.approx(16 / (math.pi * 100), abs=1e-6)


def test_matching_is_maximum_not_greedy() -> None:
    # detection 0 (best score) may match faces 0 or 1; detection 1 only face 0. Greedy would give
    # face 0 to detection 0 and leave detection 1 unmatched; the maximum matching has both.
    inc = m.matching_increments([[True, True], [True, False]])
    assert inc.tolist() == [True, True]
    # two detections on one face: one true positive, one false positive
    assert m.matching_increments([[True], [True]]).tolist() == [True, False]
    assert m.matching_increments(np.zeros((0, 3), dtype=bool)).tolist() == []
    assert m.matched_faces([[True, True], [True, False]]).tolist() == [True, True]
    assert m.matched_faces([[False, True], [False, True]]).tolist() == [False, True]
    assert m.matched_faces(np.zeros((0, 2), dtype=bool)).tolist() == [False, False]


def test_match_detections_and_discrete_roc() -> None:
    faces = [m.Ellipse(10, 10, 0, 50, 50), m.Ellipse(10, 10, 0, 150, 50)]
    boxes = [
        BBox(40, 40, 60, 60),
        BBox(300, 300, 320, 320),
        BBox(141, 41, 159, 59),
        BBox(42, 42, 58, 58),
    ]
    scores = [0.9, 0.8, 0.3, 0.5]
    inc = m.match_detections(faces, boxes, scores)
    assert inc.tolist() == [True, False, True, False]
    # second image: one face, no detection
    roc = m.discrete_roc([inc, np.zeros(0, bool)], [scores, []], faces=3)
    np.testing.assert_allclose(roc.thresholds, [0.9, 0.8, 0.5, 0.3])
    assert roc.true_positives.tolist() == [1, 1, 1, 2]
    assert roc.false_positives.tolist() == [0, 1, 2, 2]
    np.testing.assert_allclose(roc.tpr[-1], 2 / 3)
    assert roc.rate_at_fp(0) == pytest.approx((1 / 3, 0.9))
    assert roc.rate_at_fp(10)[0] == pytest.approx(2 / 3)


def test_discrete_roc_ties_are_one_point() -> None:
    roc = m.discrete_roc([[True, False]], [[0.5, 0.5]], faces=1)
    assert roc.thresholds.tolist() == [0.5]
    assert roc.true_positives.tolist() == [1] and roc.false_positives.tolist() == [1]


def test_group_error_rates_and_ratio() -> None:
    rates = m.group_error_rates(
        0.5,
        impostor_scores=[0.6, 0.1, 0.2, 0.3, 0.7, 0.9, 0.1, 0.2],
        impostor_groups=["a", "a", "a", "a", "b", "b", "b", "b"],
        genuine_scores=[0.9, 0.4, 0.8],
        genuine_groups=["a", "a", "b"],
    )
    assert rates["a"].fmr == pytest.approx(0.25) and rates["b"].fmr == pytest.approx(0.5)
    assert rates["a"].fnmr == pytest.approx(0.5) and rates["b"].fnmr == 0.0
    assert rates["a"].impostor == 4 and rates["a"].genuine == 2
    assert m.max_min_ratio([r.fmr for r in rates.values()]) == pytest.approx(2.0)
    assert m.max_min_ratio([0.0, 0.1]) is None
    assert m.max_min_ratio([0.1, math.nan]) is None
    only_imp = m.group_error_rates(0.5, [0.6], ["x"])
    assert math.isnan(only_imp["x"].fnmr)


def test_nan_scores_are_refused() -> None:
    with pytest.raises(ValueError):
        m.roc_curve([math.nan], [0.1])
