"""The pooled FDDB candidates of ``bench/fddb_pool.py``, and scoring under FDDB's raw rule.

:class:`Pool` loads the cached candidates of the folds asked for; :func:`evaluate` scores any
per-image boxes and scores under the raw rule (box/ellipse overlap >= 0.5, one-to-one, the
discrete ROC's rate at <= 0.1 false positives per image, by face width there);
:func:`fit_framing` fits one source's ellipse affine on folds 1-2 as ``eval detect`` does.
Used by ``bench/fddb_pool_rule.py`` and ``bench/fddb_errors.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facegate.eval import metrics as m
from facegate.eval.datasets import FddbImage, read_fddb
from facegate.models.mtcnn import nms
from facegate.pipeline.box_adapt import BoxAffine, fit_box_affine, pair_boxes
from fddb_cascade import overlap_rows

REPO = Path(__file__).resolve().parents[1]
FDDB = REPO.parent / "shared" / "data" / "fddb"
CACHE = REPO / "bench" / ".cache" / "fddb_pool"
FP = 0.1
BANDS = (40.0, 80.0, 160.0)
SCALE_GRID = np.round(np.arange(0.80, 1.201, 0.025), 3)
# columns of a candidate row (bench/fddb_pool.py)
SRC, BOX, SCORE, RNET, ONET, REG, KPS, OKPS = 1, slice(2, 6), 6, 7, 8, slice(9, 13), 13, 23


class Pool:
    """Every image's candidates (rows as ``bench/fddb_pool.py`` writes them) and ellipses."""

    def __init__(self, folds: Sequence[int]) -> None:
        self.images: list[FddbImage] = []
        self.rows: list[np.ndarray] = []
        self.sizes: list[tuple[int, int]] = []
        self.seconds: list[np.ndarray] = []
        for fold in folds:
            fddb = read_fddb(FDDB, [fold])
            z = np.load(CACHE / f"fold{fold:02d}.npz")
            table, names = z["rows"], list(z["names"])
            table = table[np.isfinite(table[:, :7]).all(axis=1)]  # BlazeFace: NaN at times
            if names != [im.name for im in fddb.images]:
                raise SystemExit(f"fold {fold}: cache does not match the FDDB listing")
            self.seconds.append(z["seconds"])
            for i, im in enumerate(fddb.images):
                self.images.append(im)
                self.rows.append(table[table[:, 0] == i])
                with Image.open(im.path) as pic:  # header only: the size boxes are clipped to
                    self.sizes.append(pic.size)

    def split(self) -> tuple[list[int], list[int], list[int]]:
        """Image indices of folds 1-2 (fitting), 3-5 (held out) and all."""
        fit = [k for k, im in enumerate(self.images) if im.fold in (1, 2)]
        test = [k for k, im in enumerate(self.images) if im.fold not in (1, 2)]
        return fit, test, list(range(len(self.images)))

    def clip(self, k: int, boxes: np.ndarray) -> np.ndarray:
        width, height = self.sizes[k]
        return np.clip(boxes, 0, [width, height, width, height])


def overlaps(pool: Pool, k: int, boxes: np.ndarray) -> np.ndarray:
    return overlap_rows(boxes, pool.images[k].ellipses)


def evaluate(
    pool: Pool,
    images: Sequence[int],
    boxes: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    ov: Sequence[np.ndarray] | None = None,
    fixed: float | None = None,
) -> dict[str, Any]:
    """The raw rule on ``images`` with per-image ``boxes`` (n, 4) and ``scores`` (n,); with
    ``fixed``, also the rate and false positives per image at that threshold."""
    ov = ov or [overlaps(pool, k, b) for k, b in zip(images, boxes, strict=True)]
    incs = [
        m.match_detections(pool.images[k].ellipses, [None] * len(s), s, overlaps=o)  # type: ignore[list-item]
        for k, s, o in zip(images, scores, ov, strict=True)
    ]
    faces = sum(len(pool.images[k].ellipses) for k in images)
    roc = m.discrete_roc(incs, list(scores), faces)
    rate, threshold = roc.rate_at_fp(FP * len(images))
    hit, total = np.zeros(4), np.zeros(4)
    for k, o, s in zip(images, ov, scores, strict=True):
        found = m.matched_faces(o[s >= threshold] >= 0.5) if len(o) else None
        for f, e in enumerate(pool.images[k].ellipses):
            band = int(np.searchsorted(BANDS, 2 * e.minor_radius, side="right"))
            total[band] += 1
            hit[band] += bool(found is not None and found.size and found[f])
    tp = int(roc.true_positives[-1]) if roc.thresholds.size else 0
    fp = int(roc.false_positives[-1]) if roc.thresholds.size else 0
    out: dict[str, Any] = {}
    if fixed is not None:
        at = roc.thresholds >= fixed
        k = int(np.flatnonzero(at)[-1]) if at.any() else -1
        out["at_fixed_threshold"] = {
            "threshold": fixed,
            "rate": float(roc.tpr[k]) if k >= 0 else 0.0,
            "fp_per_image": float(roc.false_positives[k]) / len(images) if k >= 0 else 0.0,
        }
    return out | {
        "rate_at_0.1_fppi": rate,
        "threshold_at_0.1_fppi": threshold,
        "rate_all": tp / faces,
        "fp_per_image_all": fp / len(images),
        "rate_by_width_at_0.1_fppi": dict(
            zip(
                ("<40", "40-79", "80-159", ">=160"),
                (hit / np.maximum(total, 1)).tolist(),
                strict=True,
            )
        ),
        "faces_by_width": dict(
            zip(("<40", "40-79", "80-159", ">=160"), total.tolist(), strict=True)
        ),
        "faces": faces,
        "images": len(images),
    }


def source_alone(
    pool: Pool, images: Sequence[int], source: int, affine: BoxAffine | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One source's boxes (NMS 0.3 by its own score, mapped by ``affine`` and clipped)."""
    boxes, scores = [], []
    for k in images:
        r = pool.rows[k]
        r = r[r[:, SRC] == source]
        keep = nms(r[:, BOX], r[:, SCORE], 0.3) if len(r) else np.zeros(0, np.int64)
        b = r[keep, BOX]
        if affine is not None:
            b = pool.clip(k, affine.apply_array(b))
        boxes.append(b)
        scores.append(r[keep, SCORE])
    return boxes, scores


def fit_framing(pool: Pool, images: Sequence[int], source: int) -> BoxAffine:
    """``source``'s ellipse affine on ``images``: median shift and side ratios to the bounding
    box of the ellipse each box overlaps (IoU >= 0.15, centre inside), then one common side
    scale chosen for the source's best rate at 0.1 FP/image there (as ``eval detect``)."""
    src, dst = [], []
    raw, scores = source_alone(pool, images, source, None)
    for k, b in zip(images, raw, strict=True):
        ell = pool.images[k].ellipses
        targets = [[t.x1, t.y1, t.x2, t.y2] for t in (e.bbox() for e in ell)]
        for i, j in pair_boxes(b, targets, min_iou=0.15):
            cx, cy = (b[i, 0] + b[i, 2]) / 2, (b[i, 1] + b[i, 3]) / 2
            if ell[j].contains(np.array([cx]), np.array([cy]))[0]:
                src.append(b[i])
                dst.append(targets[j])
    base = fit_box_affine(src, dst)

    def rate(a: BoxAffine) -> float:
        mapped = [pool.clip(k, a.apply_array(b)) for k, b in zip(images, raw, strict=True)]
        return float(evaluate(pool, images, mapped, scores)["rate_at_0.1_fppi"])

    best = max((base.scaled(float(s)) for s in SCALE_GRID), key=rate)
    return BoxAffine(*(round(v, 4) for v in (best.dx, best.dy, best.sx, best.sy)))
