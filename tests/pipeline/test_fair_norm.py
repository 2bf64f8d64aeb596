"""Fair score normalisation on synthetic populations where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.errors import ConfigError
from facegate.pipeline.calibration_fit import impostor_scores
from facegate.pipeline.fair_norm import FairNormaliser, fit_fair_normaliser, spherical_kmeans


def population(n: int, spread: float, centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` different people around ``centre``: small ``spread`` = faces a model tells apart
    poorly (their impostor scores run high)."""
    x = centre + spread * rng.standard_normal((n, centre.shape[0]))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def two_groups(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dim = 32
    a_centre, b_centre = np.zeros(dim), np.zeros(dim)
    a_centre[0], b_centre[1] = 1.0, 1.0
    return population(600, 0.25, a_centre, rng), population(600, 0.45, b_centre, rng)


def fmr_within(x: np.ndarray, threshold: float, norm: FairNormaliser | None) -> float:
    s = x @ x.T
    iu = np.triu_indices(len(x), k=1)
    scores = s[iu]
    if norm is not None:
        scores = norm.normalise(scores, x[iu[0]], x[iu[1]])
    return float((scores >= threshold).mean())


def test_kmeans_separates_clear_groups() -> None:
    rng = np.random.default_rng(0)
    a = population(200, 0.1, np.eye(32)[0], rng)
    b = population(200, 0.1, np.eye(32)[1], rng)
    centroids = spherical_kmeans(np.concatenate([a, b]), 2)
    labels_a = np.argmax(a @ centroids.T, axis=1)
    labels_b = np.argmax(b @ centroids.T, axis=1)
    assert len(set(labels_a)) == 1 and len(set(labels_b)) == 1 and labels_a[0] != labels_b[0]
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, atol=1e-5)


def test_normalisation_evens_out_fmr_across_groups_on_held_out_people() -> None:
    fit_a, fit_b = two_groups(1)
    test_a, test_b = two_groups(2)  # other people of the same two kinds
    norm = fit_fair_normaliser(np.concatenate([fit_a, fit_b]), k=4, fmr=1e-2)
    thr = norm.global_threshold
    raw = [fmr_within(test_a, thr, None), fmr_within(test_b, thr, None)]
    fair = [fmr_within(test_a, thr, norm), fmr_within(test_b, thr, norm)]
    assert raw[0] > 10 * max(raw[1], 1e-5)  # the tight group is falsely matched far more often
    assert max(fair) / max(min(fair), 1e-5) < max(raw) / max(min(raw), 1e-5) / 5
    assert norm.deltas.max() > 0 > norm.deltas.min()


def test_round_trip_and_errors() -> None:
    a, b = two_groups(3)
    x = np.concatenate([a, b])
    norm = fit_fair_normaliser(x, k=3, fmr=1e-2, source="synthetic")
    again = FairNormaliser.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again.assign(x), norm.assign(x))
    np.testing.assert_allclose(again.deltas, norm.deltas, atol=1e-6)
    scores = impostor_scores(x[:5])
    assert len(scores) == 10
    with pytest.raises(ConfigError, match="too few people"):
        fit_fair_normaliser(x[:10], k=2, fmr=1e-3)
    with pytest.raises(ConfigError, match="k-means needs"):
        spherical_kmeans(x[:3], 5)
