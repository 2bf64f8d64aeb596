"""A second stage over every detector's candidates: a logistic regression fitted on FDDB folds 1-2.

The candidates of ``bench/fddb_pool.py`` (libfacedetection on the image, a 2x copy and the
mirror image; MTCNN's R-Net survivors with O-Net's box; BlazeFace back and full range at 0.1;
each with R-Net's and O-Net's scores of its square crop) are pooled: each box is mapped to
FDDB's framing by its detector's ellipse affine (fitted on folds 1-2, clipped), described by
cheap features (:func:`features`: its detector, its score, the best score of each detector among
the boxes overlapping it, O-Net and R-Net, O-Net's regression, size, aspect, O-Net's five-point
geometry), scored by a logistic regression (numpy, Newton steps, L2), suppressed (NMS on the
mapped boxes) and thresholded at 0.1 false positives per image on folds 1-2.

Which detectors, the NMS overlap and the box vote are chosen by two-fold cross-validation
inside folds 1-2 (fit on fold 1 and score fold 2, and the reverse); the chosen variant is then
fitted on folds 1-2 and reported on folds 3-5 (held out) and 1-5 under the raw rule.

    .venv/bin/python bench/fddb_pool_rule.py [--out bench/results/fddb_pool_rule.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from facegate.models.cascade import CascadeConfig
from facegate.models.mtcnn import nms
from facegate.pipeline.box_adapt import BoxAffine, iou_matrix
from fddb_errors import cascade
from fddb_pool_data import (
    BOX,
    OKPS,
    ONET,
    REG,
    REPO,
    RNET,
    SCORE,
    SRC,
    Pool,
    evaluate,
    fit_framing,
    overlaps,
)

ALL = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class Variant:
    sources: tuple[int, ...] = ALL
    nms: float = 0.3  # IoU on the mapped boxes
    vote: bool = False  # the kept box: score-weighted mean of the boxes it suppressed (IoU >= 0.5)
    min_width: float = 12.0
    l2: float = 1.0


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def geometry(r: np.ndarray) -> np.ndarray:
    """O-Net's five points against the box: eye distance / box width, the nose's offset from
    the eyes' midpoint and the mouth's distance below the eyes (both / eye distance), and the
    eyes' tilt; zeros where the crop was empty."""
    pts = r[:, OKPS : OKPS + 10].reshape(-1, 5, 2)
    w = np.maximum(r[:, 4] - r[:, 2], 1.0)
    eyes = pts[:, 1] - pts[:, 0]
    dist = np.maximum(np.hypot(eyes[:, 0], eyes[:, 1]), 1.0)
    mid = (pts[:, 0] + pts[:, 1]) / 2
    mouth = (pts[:, 3] + pts[:, 4]) / 2
    out = np.stack(
        [
            dist / w,
            (pts[:, 2, 0] - mid[:, 0]) / dist,
            (mouth[:, 1] - mid[:, 1]) / dist,
            eyes[:, 1] / dist,
        ],
        axis=1,
    )
    return np.nan_to_num(np.clip(out, -5, 5))


def features(r: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """One row of features per candidate (rows ``r``, boxes ``mapped`` to FDDB's framing)."""
    src = r[:, SRC].astype(int)
    onehot = (src[:, None] == np.array(ALL)[None, :]).astype(float)
    iou = iou_matrix(mapped, mapped)
    support = np.zeros((len(r), len(ALL)))
    for c, s in enumerate(ALL):
        near = (iou >= 0.5) & (src == s)[None, :]
        support[:, c] = np.where(near, r[None, :, SCORE], 0.0).max(axis=1) if len(r) else 0.0
    w = np.maximum(r[:, 4] - r[:, 2], 1.0)
    h = np.maximum(r[:, 5] - r[:, 3], 1.0)
    reg = np.abs(r[:, REG]).sum(axis=1)
    return np.concatenate(
        [
            onehot,
            onehot * r[:, SCORE : SCORE + 1],
            support,
            (support > 0).sum(axis=1, keepdims=True),
            np.stack(
                [
                    _logit(r[:, ONET]),
                    _logit(r[:, RNET]),
                    r[:, ONET] == 0,
                    reg,
                    np.log(w),
                    np.log(w) ** 2,
                    np.log(h / w),
                ],
                axis=1,
            ),
            geometry(r),
        ],
        axis=1,
    )


class Features:
    """Per image: the candidates used by a variant, their mapped boxes, features, labels."""

    def __init__(self, pool: Pool, framings: dict[int, BoxAffine], v: Variant) -> None:
        self.boxes: list[np.ndarray] = []
        self.x: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        for k, r in enumerate(pool.rows):
            r = r[np.isin(r[:, SRC], v.sources) & (r[:, 4] - r[:, 2] >= v.min_width)]
            mapped = np.zeros((len(r), 4))
            for s in v.sources:
                mine = r[:, SRC] == s
                mapped[mine] = pool.clip(k, framings[s].apply_array(r[mine, BOX]))
            self.boxes.append(mapped)
            self.x.append(features(r, mapped))
            ov = overlaps(pool, k, mapped)
            self.y.append(ov.max(axis=1) >= 0.5 if ov.shape[1] else np.zeros(len(r), bool))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 25) -> np.ndarray:
    """Weights ``(d + 1,)`` (bias last) of an L2-penalised logistic regression, by Newton steps
    on the features as given (the caller standardises them)."""
    a = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    w = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


@dataclass(frozen=True)
class Model:
    """A fitted second stage: feature means and scales, and the weights (bias last)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def score(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        return np.asarray(
            1 / (1 + np.exp(-np.clip(z @ self.weights[:-1] + self.weights[-1], -30, 30)))
        )


def fit_model(feats: Features, images: Sequence[int], l2: float) -> Model:
    x = np.concatenate([feats.x[k] for k in images])
    y = np.concatenate([feats.y[k] for k in images]).astype(float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    return Model(mean, scale, fit_logistic((x - mean) / scale, y, l2))


def detect(feats: Features, model: Model, k: int, v: Variant) -> tuple[np.ndarray, np.ndarray]:
    """Image ``k``'s faces under ``model``: NMS on the mapped boxes, optionally voted boxes."""
    boxes, x = feats.boxes[k], feats.x[k]
    if not len(boxes):
        return boxes, np.zeros(0)
    s = model.score(x)
    keep = nms(boxes, s, v.nms)
    out = boxes[keep]
    if v.vote:
        iou = iou_matrix(out, boxes)
        weight = np.where(iou >= 0.5, s[None, :], 0.0)
        out = weight @ boxes / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
    return out, s[keep]


def score_variant(
    pool: Pool,
    feats: Features,
    model: Model,
    v: Variant,
    images: Sequence[int],
    fixed: float | None = None,
) -> dict[str, Any]:
    found = [detect(feats, model, k, v) for k in images]
    return evaluate(pool, images, [b for b, _ in found], [s for _, s in found], fixed=fixed)


def shipped_cascade(pool: Pool, images: Sequence[int]) -> dict[str, Any]:
    """``libfacedetection-onet`` replayed on the same candidates, for comparison: every box
    (threshold 0, so the sweep may go below the shipped threshold), and at the shipped one."""
    config = replace(CascadeConfig(), threshold=0.0)
    found = [cascade(pool, k, config)[:2] for k in images]
    return evaluate(
        pool, images, [b for b, _ in found], [s for _, s in found], fixed=CascadeConfig().threshold
    )


def cross_validated(pool: Pool, feats: Features, v: Variant) -> float:
    """Mean rate at 0.1 FP/image of fitting on fold 1 and scoring fold 2, and the reverse."""
    rates = []
    for a, b in ((1, 2), (2, 1)):
        fit = [k for k, im in enumerate(pool.images) if im.fold == a]
        test = [k for k, im in enumerate(pool.images) if im.fold == b]
        model = fit_model(feats, fit, v.l2)
        rates.append(score_variant(pool, feats, model, v, test)["rate_at_0.1_fppi"])
    return float(np.mean(rates))


def ms_per_image(pool: Pool, sources: Sequence[int]) -> float:
    """CPU ms per image of the sources used and the crop scoring (under whatever load)."""
    table = np.concatenate(pool.seconds)
    return float(1000 * table[:, [s - 1 for s in sources] + [len(ALL)]].sum(axis=1).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fddb_pool_rule.json")
    ap.add_argument("--folds", default="1,2,3,4,5")
    args = ap.parse_args()
    pool = Pool([int(f) for f in args.folds.split(",")])
    fit, test, every = pool.split()
    framings = {s: fit_framing(pool, fit, s) for s in ALL}
    grid = [
        Variant(sources, t, vote, l2=l2)
        for sources, t, vote, l2 in itertools.product(
            [(1, 3), (1, 3, 4), (1, 3, 5, 6), (1, 3, 4, 5, 6), (1, 2, 3, 4), ALL],
            [0.3, 0.4],
            [False, True],
            [1.0, 30.0],
        )
    ]
    cv, made = [], {}
    for v in grid:  # the features depend on the detectors and the minimum width only
        key = (v.sources, v.min_width)
        feats = made[key] = made.get(key) or Features(pool, framings, v)
        cv.append((cross_validated(pool, feats, v), v))
        print(f"cv folds 1-2 {cv[-1][0]:.4f} {v}", flush=True)
    best = max(cv, key=lambda x: x[0])[1]
    feats = made[(best.sources, best.min_width)]
    model = fit_model(feats, fit, best.l2)
    report: dict[str, Any] = {
        "rule": "FDDB raw: box/ellipse overlap >= 0.5, one-to-one; fitted on folds 1-2",
        "framings": {str(s): a.as_dict() for s, a in framings.items()},
        "cross_validation": [{"rate": r, **asdict(v)} for r, v in cv],
        "chosen": asdict(best),
        "model": {
            "mean": model.mean.tolist(),
            "scale": model.scale.tolist(),
            "weights": model.weights.tolist(),
        },
        "ms_per_image_cpu": ms_per_image(pool, best.sources),
        "load_when_cached": os.getloadavg()[0],
    }
    fixed = score_variant(pool, feats, model, best, fit)["threshold_at_0.1_fppi"]
    for name, images in (("folds_1_2", fit), ("folds_3_5", test), ("folds_1_5", every)):
        if not images:
            continue
        report[name] = score_variant(pool, feats, model, best, images, fixed)
        report[f"libfacedetection-onet_{name}"] = shipped_cascade(pool, images)
        print(name, json.dumps(report[name]), flush=True)
        print("libfacedetection-onet", json.dumps(report[f"libfacedetection-onet_{name}"]))
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
