"""Score detection-cascade rules on the cached FDDB candidates (``bench/fddb_candidates.py``).

A rule says which libfacedetection scales propose (1: the image; 2: a 2x copy), how a
candidate's score is made from libfacedetection's and O-Net's, the overlap above which a
lower-scored box is suppressed (across scales), which box is kept (libfacedetection's, or
O-Net's regression of its square) and whether FDDB's ellipse affine maps it. Rules are chosen
on folds 1-2 only; each is then reported on folds 1-2, 3-5 and 1-5 under FDDB's raw rule
(box/ellipse overlap >= 0.5, one-to-one), at <= 0.1 false positives per image.

    .venv/bin/python bench/fddb_cascade.py [--search] [--out bench/results/fddb_cascade.json]

Without ``--search`` only the named rules in RULES are scored.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facegate.eval import metrics as m
from facegate.eval.datasets import FddbImage, read_fddb
from facegate.models.mtcnn import _square, nms
from facegate.pipeline.box_adapt import BoxAffine, fit_box_affine, iou_matrix, pair_boxes

REPO = Path(__file__).resolve().parents[1]
FDDB = REPO.parent / "shared" / "data" / "fddb"
CACHE = REPO / "bench" / ".cache" / "fddb_candidates"
FP = 0.1
BANDS = (40.0, 80.0, 160.0)
SCALE_GRID = np.round(np.arange(0.80, 1.201, 0.025), 3)


@dataclass(frozen=True)
class Rule:
    scales: tuple[int, ...] = (1,)
    onet_weight: float = 0.0  # score = (1 - w) * libfacedetection + w * O-Net
    rnet_weight: float = 0.0  # ... + r * R-Net (then divided by 1 + r)
    nms: float = 1.0  # 1.0: no suppression across scales
    box: str = "libfd"  # or "onet"
    affine: tuple[float, float, float, float] | None = None
    onet_power: float = 0.0  # score *= O-Net ** p (after the weighted sum)
    min_width: float = 0.0  # boxes narrower than this many pixels are dropped
    vote: float = 0.0  # > 0: a kept box's score is the mean over passes of each pass's best
    # fused score among its boxes overlapping it by at least this IoU (0 for a pass with none)


class Data:
    """Candidates and ellipses of every image, with overlaps cached per (box, affine)."""

    def __init__(self, folds: list[int]) -> None:
        self.images: list[FddbImage] = []
        self.rows: list[np.ndarray] = []
        self.sizes: list[tuple[int, int]] = []
        for fold in folds:
            fddb = read_fddb(FDDB, [fold])
            z = np.load(CACHE / f"fold{fold:02d}.npz")
            table, names = z["rows"], list(z["names"])
            if names != [im.name for im in fddb.images]:
                raise SystemExit(f"fold {fold}: cache does not match the FDDB listing")
            for i, im in enumerate(fddb.images):
                self.images.append(im)
                self.rows.append(table[table[:, 0] == i])
                with Image.open(im.path) as pic:  # header only: the size boxes are clipped to
                    self.sizes.append(pic.size)
        self._overlaps: dict[tuple[str, Any], list[np.ndarray]] = {}

    def boxes(self, k: int, box: str, affine: tuple[float, ...] | None) -> np.ndarray:
        r = self.rows[k]
        b = r[:, 2:6]
        if box == "onet" and len(r):
            sq = _square(b)
            side = (sq[:, 2] - sq[:, 0] + 1)[:, None]
            b = np.where(r[:, 8:9] > 0, sq + r[:, 9:13] * side, b)
        if affine is not None:  # clipped to the image, as the detector returns its boxes
            width, height = self.sizes[k]
            b = BoxAffine(*affine).apply_array(b)
            b = np.clip(b, 0, [width, height, width, height])
        return b

    def overlaps(self, box: str, affine: tuple[float, ...] | None) -> dict[int, np.ndarray]:
        """Per image (filled on first use): candidates x ellipses overlaps."""
        return self._overlaps.setdefault((box, affine), {})

    def overlap(self, k: int, box: str, affine: tuple[float, ...] | None) -> np.ndarray:
        cache = self.overlaps(box, affine)
        if k not in cache:
            cache[k] = overlap_rows(self.boxes(k, box, affine), self.images[k].ellipses)
        return cache[k]


def overlap_rows(rows: np.ndarray, ellipses: tuple[m.Ellipse, ...], n: int = 64) -> np.ndarray:
    """:func:`facegate.eval.metrics.ellipse_box_overlap` for every box at once (same grid)."""
    out = np.zeros((len(rows), len(ellipses)))
    if not len(rows):
        return out
    steps = (np.arange(n) + 0.5) / n
    w = np.maximum(rows[:, 2] - rows[:, 0], 0.0)
    h = np.maximum(rows[:, 3] - rows[:, 1], 0.0)
    xs = rows[:, 0:1] + steps[None, :] * w[:, None]
    ys = rows[:, 1:2] + steps[None, :] * h[:, None]
    area = w * h
    for f, e in enumerate(ellipses):
        c, s = np.cos(e.angle), np.sin(e.angle)
        dx, dy = xs[:, None, :] - e.cx, ys[:, :, None] - e.cy
        u = (dx * c + dy * s) / e.major_radius
        v = (-dx * s + dy * c) / e.minor_radius
        inter = (u * u + v * v <= 1.0).mean(axis=(1, 2)) * area
        union = area + e.area - inter
        out[:, f] = np.where((area > 0) & (union > 0), inter / np.maximum(union, 1e-12), 0.0)
    return out


def selected(data: Data, k: int, rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the candidates ``rule`` keeps in image ``k``, and their scores."""
    r = data.rows[k]
    if not len(r):
        return np.zeros(0, np.int64), np.zeros(0)
    use = np.flatnonzero(np.isin(r[:, 1], rule.scales) & (r[:, 4] - r[:, 2] >= rule.min_width))
    score = (1 - rule.onet_weight) * r[use, 6] + rule.onet_weight * r[use, 8]
    score = (score + rule.rnet_weight * r[use, 7]) / (1 + rule.rnet_weight)
    if rule.onet_power:
        score = score * np.maximum(r[use, 8], 1e-6) ** rule.onet_power
    if rule.vote > 0 and len(use):
        score = voted(data.boxes(k, "libfd", None)[use], r[use, 1], score, rule)
    if rule.nms < 1.0 and len(use):
        keep = nms(data.boxes(k, rule.box, None)[use], score, rule.nms)
        use, score = use[keep], score[keep]
    return use, score


def voted(boxes: np.ndarray, passes: np.ndarray, score: np.ndarray, rule: Rule) -> np.ndarray:
    iou = iou_matrix(boxes, boxes)
    out = np.zeros(len(boxes))
    for p in rule.scales:
        mine = passes == p
        near = (iou >= rule.vote) & mine[None, :]
        out += np.where(near, score[None, :], 0.0).max(axis=1)
    return out / len(rule.scales)


def evaluate(data: Data, rule: Rule, images: list[int]) -> dict[str, Any]:
    incs, scores, picks = [], [], []
    for k in images:
        use, score = selected(data, k, rule)
        ov = data.overlap(k, rule.box, rule.affine)[use]
        inc = m.match_detections(data.images[k].ellipses, [None] * len(use), score, overlaps=ov)
        incs.append(inc)
        scores.append(score)
        picks.append((ov, score))
    faces = sum(len(data.images[k].ellipses) for k in images)
    roc = m.discrete_roc(incs, scores, faces)
    rate, threshold = roc.rate_at_fp(FP * len(images))
    hit = np.zeros(4)
    total = np.zeros(4)
    for k, (ov, score) in zip(images, picks, strict=True):
        found = m.matched_faces(ov[score >= threshold] >= 0.5) if len(ov) else None
        for f, e in enumerate(data.images[k].ellipses):
            band = int(np.searchsorted(BANDS, 2 * e.minor_radius, side="right"))
            total[band] += 1
            hit[band] += bool(found is not None and found.size and found[f])
    tp = int(roc.true_positives[-1]) if roc.thresholds.size else 0
    fp = int(roc.false_positives[-1]) if roc.thresholds.size else 0
    return {
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
        "faces": faces,
        "images": len(images),
    }


def fit_affine(data: Data, rule: Rule, images: list[int]) -> tuple[float, float, float, float]:
    """The ellipse affine for ``rule``'s boxes, fitted on ``images`` as ``eval detect`` does:
    median shift and side ratios to the ellipse's bounding box, then one common side scale
    chosen for the best rate at 0.1 FP/image on the same images."""
    src, dst = [], []
    for k in images:
        use, _ = selected(data, k, rule)
        boxes = data.boxes(k, rule.box, None)[use]
        im = data.images[k]
        targets = [[b.x1, b.y1, b.x2, b.y2] for b in (e.bbox() for e in im.ellipses)]
        for i, j in pair_boxes(boxes, targets, min_iou=0.15):
            cx, cy = (boxes[i, 0] + boxes[i, 2]) / 2, (boxes[i, 1] + boxes[i, 3]) / 2
            if im.ellipses[j].contains(np.array([cx]), np.array([cy]))[0]:
                src.append(boxes[i])
                dst.append(targets[j])
    base = fit_box_affine(src, dst)
    best, best_rate = None, -1.0
    for k in SCALE_GRID:
        a = base.scaled(float(k))
        cand = (round(a.dx, 4), round(a.dy, 4), round(a.sx, 4), round(a.sy, 4))
        rate = evaluate(data, replace(rule, affine=cand), images)["rate_at_0.1_fppi"]
        if rate > best_rate:
            best, best_rate = cand, rate
    assert best is not None
    return best


RULES = {
    "libfd-1x": Rule(),
    "libfd-1x+2x": Rule(scales=(1, 2), nms=0.5),
    "libfd-1x-onet0.5": Rule(onet_weight=0.5),
    "libfd-1x+2x-onet0.5": Rule(scales=(1, 2), onet_weight=0.5, nms=0.5),
    "libfd-1x+flip-vote": Rule(scales=(1, 3), nms=0.5, vote=0.5),
    "libfd-1x+2x+flip-vote": Rule(scales=(1, 2, 3), nms=0.5, vote=0.5),
    "libfd-1x+2x-vote": Rule(scales=(1, 2), nms=0.5, vote=0.5),
    # the chosen rule's parts one at a time (raw boxes): what O-Net adds
    "mirror-minw12-nms0.3-no-onet": Rule(scales=(1, 3), nms=0.3, min_width=12.0),
    "image-minw12-onet": Rule(onet_weight=0.2, onet_power=0.1, min_width=12.0),
    "mirror-nms0.3-onet-no-minw": Rule(scales=(1, 3), onet_weight=0.2, nms=0.3, onet_power=0.1),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--folds", default="1,2,3,4,5")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fddb_cascade.json")
    args = ap.parse_args()
    data = Data([int(f) for f in args.folds.split(",")])
    fit = [k for k, im in enumerate(data.images) if im.fold in (1, 2)]
    test = [k for k, im in enumerate(data.images) if im.fold not in (1, 2)]
    every = list(range(len(data.images)))
    rules = dict(RULES)
    # libfacedetection alone, with its own ellipse affine (fitted on folds 1-2, boxes clipped)
    rules["libfd-1x-affine"] = replace(Rule(), affine=fit_affine(data, Rule(), fit))
    if args.search:
        grid = itertools.product(
            [(1,), (1, 2), (1, 3), (1, 2, 3)],
            [0.0, 0.2, 0.4],
            [0.0, 0.1, 0.2, 0.35, 0.5],
            [0.0, 10.0, 12.0, 14.0],
            [0.3, 0.5],
            [0.0, 0.5],
        )
        found = []
        for scales, w, power, width, t, vote in grid:
            if vote and len(scales) == 1:
                continue
            rule = Rule(
                scales, w, 0.0, t if len(scales) > 1 else 1.0, onet_power=power,
                min_width=width, vote=vote,
            )  # fmt: skip
            found.append((evaluate(data, rule, fit)["rate_at_0.1_fppi"], rule))
        found.sort(key=lambda x: -x[0])
        for scales in [(1,), (1, 2), (1, 3), (1, 2, 3)]:
            best = next(x for x in found if x[1].scales == scales)
            print(f"best with passes {scales}: folds 1-2 raw {best[0]:.4f} {best[1]}")
        for rate, rule in found[:5]:
            print(f"folds 1-2 raw {rate:.4f} {rule}", flush=True)
        for i, (_, rule) in enumerate(found[:3]):
            rules[f"search-{i}"] = rule
            for box in ("libfd", "onet"):
                based = replace(rule, box=box)
                rules[f"search-{i}-{box}-affine"] = replace(
                    based, affine=fit_affine(data, based, fit)
                )
    out: dict[str, Any] = {"rule": "FDDB raw: box/ellipse overlap >= 0.5, one-to-one"}
    for name, rule in rules.items():
        out[name] = {
            "rule": asdict(rule),
            "folds_1_2": evaluate(data, rule, fit),
            "folds_3_5": evaluate(data, rule, test) if test else None,
            "folds_1_5": evaluate(data, rule, every),
        }
        row = out[name]
        print(
            name,
            f"1-2 {row['folds_1_2']['rate_at_0.1_fppi']:.4f}",
            f"3-5 {row['folds_3_5']['rate_at_0.1_fppi']:.4f}" if test else "",
            f"1-5 {row['folds_1_5']['rate_at_0.1_fppi']:.4f}",
            f"<40 {row['folds_1_5']['rate_by_width_at_0.1_fppi']['<40']:.3f}",
            flush=True,
        )
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
