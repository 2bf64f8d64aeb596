"""Biometric performance metrics, pure numpy.

Conventions: a score is a similarity (higher means "more alike"), and a comparison is accepted
when ``score >= threshold``. Rates are fractions in ``[0, 1]``.

- Verification (1:1): ROC (FMR, TAR per threshold), AUC, EER, TAR / FNMR at a fixed FMR, and
  the LFW 10-fold protocol (threshold chosen for best accuracy on 9 folds, tested on the 10th).
- Open-set identification (1:N, NIST FRTE style): rank of the mate, CMC, FNIR at FPIR.
- Detection (FDDB): detection-to-ellipse overlap, one-to-one matching with the largest number of
  matches, and the discrete ROC (true positive rate against the total number of false positives).
- Demographic differentials (NISTIR 8280): FMR / FNMR per group at one global threshold and the
  max/min ratio across groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facegate.types import BBox

Scores = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def as_scores(values: npt.ArrayLike) -> Scores:
    """``values`` as a flat float64 array (NaN scores are not allowed)."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.isnan(arr).any():
        raise ValueError("scores must not contain NaN")
    return arr


def _nonempty(arr: Scores, what: str) -> Scores:
    if arr.size == 0:
        raise ValueError(f"no {what} scores")
    return arr


# ---------------------------------------------------------------- verification (1:1)


@dataclass(frozen=True, slots=True, eq=False)
class RocCurve:
    """ROC points, threshold decreasing: ``fmr`` and ``tar`` rise from 0 to 1."""

    thresholds: Scores
    fmr: Scores
    tar: Scores

    @property
    def fnmr(self) -> Scores:
        return 1.0 - self.tar


def rate_at_or_above(scores: Scores, thresholds: Scores) -> Scores:
    """For each threshold, the fraction of ``scores`` that are ``>= threshold``."""
    ordered = np.sort(scores)
    return (ordered.size - np.searchsorted(ordered, thresholds, side="left")) / ordered.size


def roc_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> RocCurve:
    """The ROC at every distinct score, starting at ``(+inf, fmr 0, tar 0)``."""
    gen = _nonempty(as_scores(genuine), "genuine")
    imp = _nonempty(as_scores(impostor), "impostor")
    thresholds = np.unique(np.concatenate([gen, imp]))[::-1]
    thresholds = np.concatenate([[np.inf], thresholds])
    return RocCurve(
        thresholds, rate_at_or_above(imp, thresholds), rate_at_or_above(gen, thresholds)
    )


def auc(roc: RocCurve) -> float:
    """Area under the ROC (ties between a genuine and an impostor score count one half)."""
    return float(np.trapezoid(roc.tar, roc.fmr))


def eer(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> tuple[float, float]:
    """Equal error rate and its threshold, interpolated where FMR and FNMR cross."""
    roc = roc_curve(genuine, impostor)
    diff = roc.fmr - roc.fnmr  # rises from -1 to +1 as the threshold falls
    k = int(np.argmax(diff >= 0.0))
    if k == 0:
        return float(roc.fmr[0]), float(roc.thresholds[1])
    d0, d1 = diff[k - 1], diff[k]
    w = float(-d0 / (d1 - d0)) if d1 != d0 else 0.0
    rate = roc.fmr[k - 1] + w * (roc.fmr[k] - roc.fmr[k - 1])
    t0 = roc.thresholds[k - 1] if np.isfinite(roc.thresholds[k - 1]) else roc.thresholds[k]
    threshold = t0 + w * (roc.thresholds[k] - t0)
    return float(rate), float(threshold)


def threshold_at_fmr(impostor: npt.ArrayLike, fmr: float) -> float:
    """The lowest threshold whose false-match rate on ``impostor`` is at most ``fmr``.

    With ``n`` impostor scores, ``floor(fmr * n)`` of them may be accepted; the threshold sits
    just above the next one. Ties are resolved conservatively (the rate never exceeds ``fmr``).
    """
    imp = np.sort(_nonempty(as_scores(impostor), "impostor"))[::-1]
    allowed = math.floor(fmr * imp.size + 1e-9)
    if allowed >= imp.size:
        return float(imp[-1])
    return float(np.nextafter(imp[allowed], np.inf))


def tar_at_fmr(genuine: npt.ArrayLike, impostor: npt.ArrayLike, fmr: float) -> tuple[float, float]:
    """True accept rate (``1 - FNMR``) at the threshold for ``fmr``: ``(tar, threshold)``."""
    threshold = threshold_at_fmr(impostor, fmr)
    gen = _nonempty(as_scores(genuine), "genuine")
    return float(np.mean(gen >= threshold)), threshold


def error_rates_at(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float
) -> tuple[float, float]:
    """``(fmr, fnmr)`` at a fixed threshold."""
    gen = _nonempty(as_scores(genuine), "genuine")
    imp = _nonempty(as_scores(impostor), "impostor")
    return float(np.mean(imp >= threshold)), float(np.mean(gen < threshold))


def best_accuracy_threshold(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """The threshold that classifies ``scores`` (genuine when ``same``) most accurately.

    Candidates are midpoints between consecutive distinct scores, plus one below and one above
    them all; the first best candidate (the highest threshold) wins.
    """
    s = _nonempty(as_scores(scores), "training")
    y = np.asarray(same, dtype=bool).reshape(-1)
    values = np.unique(s)
    candidates = np.concatenate(
        [[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1.0]]
    )[::-1]
    gen, imp = np.sort(s[y]), np.sort(s[~y])
    accepted_gen = gen.size - np.searchsorted(gen, candidates, side="left")
    rejected_imp = np.searchsorted(imp, candidates, side="left")
    return float(candidates[int(np.argmax(accepted_gen + rejected_imp))])


@dataclass(frozen=True, slots=True, eq=False)
class KFoldResult:
    """Per-fold test accuracies and the thresholds chosen on the other folds."""

    accuracies: Scores
    thresholds: Scores

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """Standard deviation over folds (``ddof=0``, as most LFW tables report it)."""
        return float(np.std(self.accuracies))

    @property
    def standard_error(self) -> float:
        return self.std / math.sqrt(self.accuracies.size)


def split_folds(n_items: int, n_folds: int = 10) -> IntArray:
    """Fold index per item, dealt round-robin (item ``i`` goes to fold ``i % n_folds``), so a
    file sorted by label still gives folds with both labels."""
    if n_items < n_folds:
        raise ValueError(f"need at least {n_folds} items for {n_folds} folds, got {n_items}")
    return np.arange(n_items, dtype=np.int64) % n_folds


def kfold_accuracy(
    scores: npt.ArrayLike,
    same: npt.ArrayLike,
    folds: npt.ArrayLike,
    valid: npt.ArrayLike | None = None,
) -> KFoldResult:
    """The LFW protocol: for each fold, pick the best threshold on the others, test on it.

    ``valid`` (optional) marks pairs that could be scored; the others take no part in choosing
    thresholds and count as errors in their test fold ("miss = wrong").
    """
    s = as_scores(scores)
    y = np.asarray(same, dtype=bool).reshape(-1)
    f = np.asarray(folds, dtype=np.int64).reshape(-1)
    ok = np.ones_like(y) if valid is None else np.asarray(valid, dtype=bool).reshape(-1)
    if not s.size == y.size == f.size == ok.size:
        raise ValueError("scores, labels, folds and valid must have the same length")
    accuracies, thresholds = [], []
    for fold in np.unique(f):
        train = (f != fold) & ok
        test = f == fold
        t = best_accuracy_threshold(s[train], y[train])
        correct = ((s[test] >= t) == y[test]) & ok[test]
        accuracies.append(float(np.mean(correct)))
        thresholds.append(t)
    return KFoldResult(np.asarray(accuracies), np.asarray(thresholds))


# ---------------------------------------------------------------- open-set identification (1:N)


def mate_ranks(scores: npt.ArrayLike, mate_index: npt.ArrayLike) -> IntArray:
    """1-based rank of the mate per search: 1 + the number of gallery entries scoring higher.

    ``scores`` is ``(searches, gallery)``; ``mate_index`` the mate's column per search.
    """
    matrix = np.asarray(scores, dtype=np.float64)
    idx = np.asarray(mate_index, dtype=np.int64).reshape(-1)
    mate = matrix[np.arange(idx.size), idx]
    ranks: IntArray = (1 + np.sum(matrix > mate[:, None], axis=1)).astype(np.int64)
    return ranks


def cmc(ranks: npt.ArrayLike, max_rank: int) -> Scores:
    """Cumulative match characteristic: ``out[k-1]`` = fraction of mates at rank ``<= k``."""
    r = np.asarray(ranks, dtype=np.int64).reshape(-1)
    if r.size == 0:
        raise ValueError("no mated searches")
    return np.asarray([np.mean(r <= k) for k in range(1, max_rank + 1)], dtype=np.float64)


def fnir_at_threshold(
    mate_scores: npt.ArrayLike, ranks: npt.ArrayLike, threshold: float, rank: int = 1
) -> float:
    """Fraction of mated searches whose mate is not returned at ``rank`` or better with a score
    at or above ``threshold``."""
    m = as_scores(mate_scores)
    r = np.asarray(ranks, dtype=np.int64).reshape(-1)
    return float(np.mean(~((r <= rank) & (m >= threshold))))


def fnir_at_fpir(
    mate_scores: npt.ArrayLike,
    ranks: npt.ArrayLike,
    nonmated_top: npt.ArrayLike,
    fpir: float,
    rank: int = 1,
) -> tuple[float, float]:
    """FNIR at the threshold where at most ``fpir`` of the non-mated searches return anyone.

    ``nonmated_top`` is each non-mated search's best gallery score. Returns ``(fnir, threshold)``.
    """
    threshold = threshold_at_fmr(nonmated_top, fpir)
    return fnir_at_threshold(mate_scores, ranks, threshold, rank), threshold


def open_set_curve(
    mate_scores: npt.ArrayLike, ranks: npt.ArrayLike, nonmated_top: npt.ArrayLike, rank: int = 1
) -> tuple[Scores, Scores]:
    """``(fpir, fnir)`` at every distinct non-mated top score (the identification DET)."""
    top = _nonempty(as_scores(nonmated_top), "non-mated")
    thresholds = np.unique(top)[::-1]
    fpir = rate_at_or_above(top, thresholds)
    fnir = np.asarray([fnir_at_threshold(mate_scores, ranks, t, rank) for t in thresholds])
    return fpir, fnir


# ---------------------------------------------------------------- detection (FDDB)


@dataclass(frozen=True, slots=True)
class Ellipse:
    """An FDDB face ellipse: radii in pixels, ``angle`` of the major axis in radians from +x."""

    major_radius: float
    minor_radius: float
    angle: float
    cx: float
    cy: float

    @property
    def area(self) -> float:
        return math.pi * self.major_radius * self.minor_radius

    def contains(self, xs: Scores, ys: Scores) -> BoolArray:
        dx, dy = xs - self.cx, ys - self.cy
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = (dx * c + dy * s) / self.major_radius
        v = (-dx * s + dy * c) / self.minor_radius
        return np.asarray(u * u + v * v <= 1.0)

    def bbox(self) -> BBox:
        """The tightest axis-aligned box around the ellipse."""
        a, b = self.major_radius, self.minor_radius
        c, s = math.cos(self.angle), math.sin(self.angle)
        hx, hy = math.hypot(a * c, b * s), math.hypot(a * s, b * c)
        return BBox(self.cx - hx, self.cy - hy, self.cx + hx, self.cy + hy)


def ellipse_box_overlap(ellipse: Ellipse, box: BBox, samples: int = 64) -> float:
    """Area of ``box`` ∩ ellipse over area of their union.

    The ellipse's area is exact; the intersection is rasterised on a ``samples`` x ``samples``
    grid of cell centres inside the box (error well under 1% of the box area).
    """
    if box.area <= 0.0 or box.iou(ellipse.bbox()) == 0.0:
        return 0.0
    steps = (np.arange(samples, dtype=np.float64) + 0.5) / samples
    xs = box.x1 + steps * box.width
    ys = box.y1 + steps * box.height
    gx, gy = np.meshgrid(xs, ys)
    inter = float(np.mean(ellipse.contains(gx, gy))) * box.area
    union = box.area + ellipse.area - inter
    return inter / union if union > 0 else 0.0


def _augment(det: int, adj: list[list[int]], owner: list[int], seen: set[int]) -> bool:
    for face in adj[det]:
        if face in seen:
            continue
        seen.add(face)
        if owner[face] < 0 or _augment(owner[face], adj, owner, seen):
            owner[face] = det
            return True
    return False


def _kuhn(can_match: npt.ArrayLike) -> tuple[BoolArray, list[int]]:
    ok = np.asarray(can_match, dtype=bool)
    if ok.ndim != 2:
        raise ValueError("can_match must be a (detections, faces) matrix")
    adj = [[int(f) for f in np.flatnonzero(row)] for row in ok]
    owner = [-1] * ok.shape[1]
    grown = [_augment(d, adj, owner, set()) for d in range(ok.shape[0])]
    return np.asarray(grown, dtype=np.bool_), owner


def matching_increments(can_match: npt.ArrayLike) -> BoolArray:
    """Per detection (rows, in decreasing score order): does adding it grow the matching?

    ``can_match[d, f]`` says detection ``d`` may match face ``f``. Detections are added one at a
    time with one augmenting-path search each (Kuhn's algorithm), so after the first ``k`` rows
    the matching is a maximum one-to-one matching of those ``k``: the number of true positives at
    a threshold equal to the ``k``-th score is the sum of the first ``k`` increments.
    """
    return _kuhn(can_match)[0]


def matched_faces(can_match: npt.ArrayLike) -> BoolArray:
    """Per face (columns): is it matched in a maximum one-to-one matching of all detections?"""
    return np.asarray([o >= 0 for o in _kuhn(can_match)[1]], dtype=np.bool_)


def overlap_matrix(ellipses: Sequence[Ellipse], boxes: Sequence[BBox]) -> Scores:
    """``(detections, faces)`` overlaps from :func:`ellipse_box_overlap`."""
    out = np.zeros((len(boxes), len(ellipses)))
    for d, box in enumerate(boxes):
        for f, ellipse in enumerate(ellipses):
            out[d, f] = ellipse_box_overlap(ellipse, box)
    return out


def match_detections(
    ellipses: Sequence[Ellipse],
    boxes: Sequence[BBox],
    scores: npt.ArrayLike,
    min_overlap: float = 0.5,
    overlaps: Scores | None = None,
) -> BoolArray:
    """True-positive increments per detection, aligned with ``boxes`` (see
    :func:`matching_increments`); a detection may match a face when their overlap is at least
    ``min_overlap``. ``overlaps`` may pass in :func:`overlap_matrix` already computed."""
    s = as_scores(scores)
    order = np.argsort(-s, kind="stable")
    ov = overlap_matrix(ellipses, boxes) if overlaps is None else overlaps
    out = np.zeros(len(boxes), dtype=bool)
    out[order] = matching_increments(ov[order] >= min_overlap)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class DetectionRoc:
    """The discrete ROC: at each distinct score, true positives and total false positives."""

    thresholds: Scores
    true_positives: IntArray
    false_positives: IntArray
    faces: int
    images: int

    @property
    def tpr(self) -> Scores:
        return self.true_positives / max(self.faces, 1)

    def rate_at_fp(self, max_false_positives: float) -> tuple[float, float]:
        """Best true positive rate with at most ``max_false_positives``; ``(tpr, threshold)``."""
        ok = self.false_positives <= max_false_positives
        if not ok.any():
            return 0.0, math.inf
        k = int(np.flatnonzero(ok)[-1])
        return float(self.tpr[k]), float(self.thresholds[k])


def discrete_roc(
    increments: Sequence[npt.ArrayLike], scores: Sequence[npt.ArrayLike], faces: int
) -> DetectionRoc:
    """Sweep the score threshold over all images' detections (per-image increments from
    :func:`match_detections`); ``faces`` is the total number of annotated faces."""
    empty = np.zeros(0)
    inc = np.concatenate(
        [empty] + [np.asarray(i, dtype=np.float64).reshape(-1) for i in increments]
    )
    s = np.concatenate([empty] + [as_scores(x) for x in scores])
    order = np.argsort(-s, kind="stable")
    s = s[order]
    hits: IntArray = inc[order].astype(np.int64)
    tp: IntArray = np.cumsum(hits)
    fp: IntArray = np.cumsum(1 - hits)
    last_of_tie = np.r_[s[1:] != s[:-1], True] if s.size else np.zeros(0, dtype=bool)
    return DetectionRoc(s[last_of_tie], tp[last_of_tie], fp[last_of_tie], faces, len(scores))


# ---------------------------------------------------------------- demographic differentials


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Error rates of one demographic group at the global threshold (NaN: no such scores)."""

    group: str
    genuine: int
    impostor: int
    fmr: float
    fnmr: float


def group_error_rates(
    threshold: float,
    impostor_scores: npt.ArrayLike,
    impostor_groups: Sequence[str],
    genuine_scores: npt.ArrayLike | None = None,
    genuine_groups: Sequence[str] | None = None,
) -> dict[str, GroupRates]:
    """FMR and FNMR per group at one global ``threshold`` (NISTIR 8280)."""
    imp = as_scores(impostor_scores)
    imp_g = np.asarray(impostor_groups, dtype=object)
    gen = as_scores(genuine_scores if genuine_scores is not None else [])
    gen_g = np.asarray(genuine_groups if genuine_groups is not None else [], dtype=object)
    out: dict[str, GroupRates] = {}
    for group in sorted({*map(str, imp_g), *map(str, gen_g)}):
        gi, gg = imp[imp_g == group], gen[gen_g == group]
        fmr = float(np.mean(gi >= threshold)) if gi.size else math.nan
        fnmr = float(np.mean(gg < threshold)) if gg.size else math.nan
        out[group] = GroupRates(group, int(gg.size), int(gi.size), fmr, fnmr)
    return out


def max_min_ratio(values: Sequence[float]) -> float | None:
    """Largest over smallest of the finite ``values``; None when undefined (fewer than two
    values, or a smallest value of 0 — then report the values themselves)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2 or min(finite) <= 0.0:
        return None
    return max(finite) / min(finite)
