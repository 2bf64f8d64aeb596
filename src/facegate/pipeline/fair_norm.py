"""Fair score normalisation, unsupervised and cluster-based (after Terhörst et al. 2020).

"Post-comparison mitigation of demographic bias in face recognition using fair score
normalization" (Pattern Recognition Letters 140, 2020): the embeddings of a calibration set
(photos of different people, one each; no demographic labels) are grouped by k-means; for each
cluster ``c`` a threshold ``thr_c`` at the target false-match rate is taken from the impostor
scores of pairs inside the cluster, beside the global threshold ``thr_G`` from all pairs. A
comparison of faces ``a`` and ``b`` (clusters ``c_a``, ``c_b``) is then scored

    s' = s - (delta[c_a] + delta[c_b]) / 2,    delta[c] = thr_c - thr_G

so that one global threshold gives a similar FMR in every cluster: where impostors of a kind of
face score high (a cluster the model tells apart poorly), their scores are lowered.

Here k-means is spherical (embeddings are unit vectors; centroids re-normalised), seeded with
k-means++ from a fixed seed. A cluster with too few internal pairs for its threshold
(fewer than :data:`~facegate.pipeline.calibration_fit.MIN_TAIL` above it) uses the pairs with
at least one face in it; a cluster still too thin keeps delta 0. Pure numpy: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.errors import ConfigError
from facegate.pipeline.calibration_fit import MIN_TAIL, impostor_scores

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def _threshold(scores: F64, fmr: float) -> float | None:
    """The score that a fraction ``fmr`` of ``scores`` (sorted) reaches; None if too thin."""
    n = len(scores)
    if fmr * n < MIN_TAIL:
        return None
    return float(scores[n - int(math.ceil(fmr * n))])


def spherical_kmeans(x: F32, k: int, iterations: int = 30, seed: int = 0) -> F32:
    """``k`` unit centroids for unit rows ``x`` (k-means++ seeding, cosine assignment)."""
    if not 1 <= k <= len(x):
        raise ConfigError(f"k-means needs 1 <= k <= {len(x)} samples, got k={k}")
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        nearest = np.max(x @ np.stack(centres).T, axis=1)
        weight = np.clip(1.0 - nearest, 0.0, None) ** 2
        total = float(weight.sum())
        pick = rng.choice(len(x), p=weight / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
    c = np.stack(centres).astype(np.float32)
    for _ in range(iterations):
        labels = np.argmax(x @ c.T, axis=1)
        new = np.zeros_like(c)
        np.add.at(new, labels, x)
        empty = np.linalg.norm(new, axis=1) == 0
        new[empty] = c[empty]
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        if np.allclose(new, c, atol=1e-6):
            c = new
            break
        c = new
    return c


@dataclass(frozen=True, slots=True, eq=False)
class FairNormaliser:
    """Cluster centroids and per-cluster threshold offsets at one target FMR."""

    centroids: F32  # (k, dim), unit rows
    deltas: F64  # (k,), thr_c - thr_G
    global_threshold: float
    fmr: float
    source: str = ""

    @property
    def clusters(self) -> int:
        return int(self.centroids.shape[0])

    def assign(self, vectors: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """The cluster of each unit vector (nearest centroid by cosine)."""
        v = np.asarray(vectors, dtype=np.float32).reshape(-1, self.centroids.shape[1])
        labels: npt.NDArray[np.intp] = np.argmax(v @ self.centroids.T, axis=1)
        return labels

    def offsets(self, vectors: npt.ArrayLike) -> F64:
        """``delta`` of each vector's cluster."""
        return self.deltas[self.assign(vectors)]

    def normalise(self, scores: npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike) -> F64:
        """Normalised scores of comparisons ``a[i]`` vs ``b[i]`` whose raw scores are given."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        return s - 0.5 * (self.offsets(a) + self.offsets(b))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "fair score normalisation (Terhoerst et al. 2020), spherical k-means",
            "fmr": self.fmr,
            "global_threshold": round(self.global_threshold, 6),
            "deltas": [round(float(d), 6) for d in self.deltas],
            "centroids": [[round(float(v), 6) for v in row] for row in self.centroids],
            "source": self.source,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> FairNormaliser:
        centroids = np.asarray(data["centroids"], dtype=np.float32)
        deltas = np.asarray(data["deltas"], dtype=np.float64)
        if centroids.ndim != 2 or deltas.shape != (centroids.shape[0],):
            raise ConfigError("fair normalisation: centroids and deltas do not fit together")
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        return FairNormaliser(
            centroids,
            deltas,
            float(data["global_threshold"]),
            float(data["fmr"]),
            str(data.get("source", "")),
        )


def fit_fair_normaliser(
    vectors: npt.ArrayLike, k: int = 20, fmr: float = 1e-3, source: str = "", seed: int = 0
) -> FairNormaliser:
    """Fit on one unit embedding per person (every pair is an impostor pair)."""
    x = np.asarray(vectors, dtype=np.float32)
    global_threshold = _threshold(impostor_scores(x), fmr)
    if global_threshold is None:
        raise ConfigError(f"too few people to fit fair normalisation at fmr={fmr:g}")
    centroids = spherical_kmeans(x, k, seed=seed)
    labels = np.argmax(x @ centroids.T, axis=1)
    deltas = np.zeros(k, dtype=np.float64)
    for c in range(k):
        inside = x[labels == c]
        thr = _threshold(impostor_scores(inside), fmr) if len(inside) > 1 else None
        if thr is None and len(inside):  # pairs with at least one face in the cluster
            others = x[labels != c]
            cross = (inside @ others.T).reshape(-1).astype(np.float64)
            pooled = np.sort(np.concatenate([impostor_scores(inside), cross]))
            thr = _threshold(pooled, fmr)
        deltas[c] = 0.0 if thr is None else thr - global_threshold
    return FairNormaliser(centroids, deltas, global_threshold, fmr, source)
