"""Fitting a calibration from impostor scores: embeddings of different people in, table out.

Every pair of the embeddings is an impostor pair (the caller guarantees one photo per
person). For each false-match rate from 1e-1 down in quarter decades, the threshold is the score
that exactly that fraction of impostor pairs reaches; the table stops where fewer than
:data:`MIN_TAIL` impostor scores would lie above it, because a thinner tail is noise.
Pure numpy: no I/O, no models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.errors import ConfigError
from facegate.pipeline.calibration import Calibration

FMRS = tuple(10 ** (-k / 4) for k in range(4, 4 * 7 + 1))  # 1e-1 ... 1e-7, quarter decades
MIN_TAIL = 20  # a threshold needs at least this many impostor scores above it
F64 = npt.NDArray[np.float64]


def impostor_scores(vectors: npt.NDArray[np.floating[Any]], block: int = 2048) -> F64:
    """Sorted cosine similarities of every pair of rows (unit vectors), computed in blocks."""
    x = np.asarray(vectors, dtype=np.float32)
    parts = []
    for start in range(0, len(x), block):
        sims = x[start : start + block] @ x[start:].T
        rows, cols = np.triu_indices(sims.shape[0], k=1, m=sims.shape[1])
        parts.append(sims[rows, cols])
    scores = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.sort(scores.astype(np.float64))


def fmr_table(scores: F64) -> list[tuple[float, float]]:
    """(fmr, threshold) rows: the fraction of impostor scores >= threshold equals fmr."""
    n = len(scores)
    rows = []
    for fmr in FMRS:
        tail = fmr * n
        if tail < MIN_TAIL:
            break
        k = n - int(math.ceil(tail))  # scores[k:] are the top ceil(fmr*n) scores
        rows.append((fmr, float(scores[k]) + 1e-6))
    return rows


def min_people() -> int:
    """The fewest photos of different people that give at least one row (fmr=1e-1)."""
    n = 2
    while n * (n - 1) / 2 * FMRS[0] < MIN_TAIL:
        n += 1
    return n


def fit_calibration(
    vectors: npt.NDArray[np.floating[Any]], pack: str, source: str, kind: str = "deployment"
) -> tuple[Calibration, dict[str, float]]:
    """The calibration from one embedding per person, and the impostor score statistics."""
    if len(vectors) < min_people():
        raise ConfigError(
            f"calibration needs photos of at least {min_people()} different people with a "
            f"face found, got {len(vectors)}"
        )
    scores = impostor_scores(vectors)
    table = fmr_table(scores)
    calibration = Calibration(
        pack, tuple((round(f, 10), round(t, 6)) for f, t in table), len(scores), source, kind
    )
    stats = {"mean": float(scores.mean()), "std": float(scores.std()), "max": float(scores[-1])}
    return calibration, stats
