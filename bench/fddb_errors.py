"""What `libfacedetection-onet` misses on FDDB, and what its false positives are.

On the pooled candidates of ``bench/fddb_pool.py`` the shipped cascade is replayed exactly
(libfacedetection on the image and its mirror, boxes >= 12 px, the fused O-Net score, NMS 0.3,
FDDB framing, clipped; ``facegate.models.cascade.CascadeConfig``) at its threshold (0.1 false
positives per image on folds 1-2). For each face it misses: its width, and for each detector
the candidate overlapping it most (its box mapped by that detector's ellipse affine, fitted on
folds 1-2) with that overlap and its score; the miss is put in one class:

- ``suppressed``: a cascade proposal matches it (overlap >= 0.5) with a score above the
  threshold, but NMS dropped it for a better-scored overlapping box;
- ``below_threshold``: a cascade proposal matches it, scored below the threshold;
- ``other_detector``: no cascade proposal matches it, another detector's candidate does;
- ``near``: the best candidate of any detector overlaps it 0.3-0.5 (framing);
- ``not_proposed``: nothing overlaps it by 0.3.

Each false positive's crop (1.6x its box, the image's FDDB ellipses drawn in green, the box in
red) is written under ``bench/.cache/fddb_fp_crops/`` with contact sheets, to be looked at.

    .venv/bin/python bench/fddb_errors.py [--folds 1,2] [--out bench/results/fddb_errors.json]

``--threshold T`` replays the cascade at another threshold (``--crops DIR`` for its crops). The
crops were labelled by eye; the labels are in ``bench/results/fddb_unannotated_faces.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.eval import metrics as m
from facegate.imageio import decode
from facegate.models.cascade import CascadeConfig, reframe
from facegate.models.mtcnn import nms
from facegate.pipeline.box_adapt import BoxAffine
from fddb_pool_data import BOX, ONET, REPO, SCORE, SRC, Pool, fit_framing, overlaps

CROPS = REPO / "bench" / ".cache" / "fddb_fp_crops"
NAMES = {1: "libfd", 2: "libfd-2x", 3: "libfd-mirror", 4: "mtcnn", 5: "bf-back", 6: "bf-full"}


def cascade(pool: Pool, k: int, config: CascadeConfig) -> tuple[np.ndarray, np.ndarray, Any]:
    """The shipped cascade on image ``k``: kept boxes (FDDB framing, clipped), their scores,
    and (all proposals' mapped boxes, fused scores, the kept indices before the threshold)."""
    r = pool.rows[k]
    use = np.isin(r[:, SRC], (1, 3)) & (r[:, 4] - r[:, 2] >= config.min_width)
    r = r[use]
    score = (1 - config.onet_weight) * r[:, SCORE] + config.onet_weight * r[:, ONET]
    score = score * np.maximum(r[:, ONET], 1e-6) ** config.onet_power
    mapped = pool.clip(k, reframe(r[:, BOX], config.framing or (0.0, 0.0, 1.0, 1.0)))
    keep = nms(r[:, BOX], score, config.nms) if len(r) else np.zeros(0, np.int64)
    kept = keep[score[keep] >= config.threshold]
    return mapped[kept], score[kept], (mapped, score, keep)


def miss_record(
    pool: Pool, k: int, f: int, proposals: Any, framings: dict[int, BoxAffine], threshold: float
) -> dict[str, Any]:
    mapped, score, keep = proposals
    e = pool.images[k].ellipses[f]
    ov = overlaps(pool, k, mapped)[:, f] if len(mapped) else np.zeros(0)
    best: dict[str, Any] = {}
    r = pool.rows[k]
    for source, affine in framings.items():
        mine = r[r[:, SRC] == source]
        if not len(mine):
            continue
        o = overlaps(pool, k, pool.clip(k, affine.apply_array(mine[:, BOX])))[:, f]
        i = int(np.argmax(o))
        best[NAMES[source]] = {
            "overlap": round(float(o[i]), 3),
            "score": round(float(mine[i, SCORE]), 3),
            "onet": round(float(mine[i, ONET]), 3),
        }
    top = max((b["overlap"] for b in best.values()), default=0.0)
    if len(ov) and (ov >= 0.5).any():
        hits = np.flatnonzero(ov >= 0.5)
        good = hits[score[hits] >= threshold]
        kind = "suppressed" if len(good) and not np.isin(good, keep).any() else "below_threshold"
        cascade_best = float(score[hits].max())
    else:
        kind = "other_detector" if top >= 0.5 else "near" if top >= 0.3 else "not_proposed"
        cascade_best = None
    return {
        "image": pool.images[k].name,
        "face": f,
        "width": round(2 * e.minor_radius, 1),
        "class": kind,
        "cascade_best_score": cascade_best,
        "by_detector": best,
    }


def write_crops(pool: Pool, fps: list[dict[str, Any]], folder: Path) -> None:
    """One 128x128 crop per false positive and contact sheets of 48 (8 x 6), numbered."""
    folder.mkdir(parents=True, exist_ok=True)
    tiles = []
    for n, fp in enumerate(fps):
        image = decode(pool.images[fp["k"]].path)[:, :, ::-1].copy()
        for e in pool.images[fp["k"]].ellipses:
            cv2.ellipse(
                image,
                (round(e.cx), round(e.cy)),
                (round(e.major_radius), round(e.minor_radius)),
                np.degrees(e.angle),
                0,
                360,
                (0, 255, 0),
                1,
            )
        x1, y1, x2, y2 = fp["box"]
        cv2.rectangle(image, (round(x1), round(y1)), (round(x2), round(y2)), (0, 0, 255), 1)
        cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, 0.8 * max(x2 - x1, y2 - y1)
        big = cv2.copyMakeBorder(image, 400, 400, 400, 400, cv2.BORDER_CONSTANT)
        crop = big[
            round(cy - side) + 400 : round(cy + side) + 400,
            round(cx - side) + 400 : round(cx + side) + 400,
        ]
        tile = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, str(n), (2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
        cv2.imwrite(str(folder / f"fp{n:03d}.png"), tile)
        tiles.append(tile)
    for s in range(0, len(tiles), 48):
        page = tiles[s : s + 48] + [np.zeros((128, 128, 3), np.uint8)] * (
            48 - len(tiles[s : s + 48])
        )
        rows = [np.concatenate(page[i : i + 8], axis=1) for i in range(0, 48, 8)]
        cv2.imwrite(str(folder / f"sheet{s // 48}.png"), np.concatenate(rows, axis=0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", default="1,2")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fddb_errors.json")
    ap.add_argument("--threshold", type=float, default=CascadeConfig().threshold)
    ap.add_argument("--crops", type=Path, default=CROPS)
    args = ap.parse_args()
    pool = Pool([int(f) for f in args.folds.split(",")])
    fit, _, every = pool.split()
    config = replace(CascadeConfig(), threshold=args.threshold)
    framings = {s: fit_framing(pool, fit, s) for s in NAMES}
    framings[1] = framings[3] = BoxAffine(*(config.framing or (0.0, 0.0, 1.0, 1.0)))
    misses, fps, found = [], [], 0
    for k in every:
        boxes, score, proposals = cascade(pool, k, config)
        ov = overlaps(pool, k, boxes)
        inc = m.match_detections(pool.images[k].ellipses, [None] * len(score), score, overlaps=ov)  # type: ignore[list-item]
        matched = m.matched_faces(ov >= 0.5) if len(ov) else np.zeros(0, bool)
        found += int(inc.sum())
        for f in range(len(pool.images[k].ellipses)):
            if not (matched.size and matched[f]):
                misses.append(miss_record(pool, k, f, proposals, framings, config.threshold))
        for i in np.flatnonzero(~inc):
            best = float(ov[i].max()) if ov.shape[1] else 0.0
            fps.append(
                {
                    "k": k,
                    "image": pool.images[k].name,
                    "box": boxes[i].round(1).tolist(),
                    "score": round(float(score[i]), 4),
                    "best_overlap": round(best, 3),
                }
            )
    write_crops(pool, fps, args.crops)
    classes = {
        c: sum(x["class"] == c for x in misses)
        for c in ("suppressed", "below_threshold", "other_detector", "near", "not_proposed")
    }
    faces = sum(len(pool.images[k].ellipses) for k in every)
    out = {
        "folds": args.folds,
        "images": len(every),
        "faces": faces,
        "found": found,
        "false_positives": len(fps),
        "threshold": config.threshold,
        "framings": {NAMES[s]: a.as_dict() for s, a in framings.items()},
        "miss_classes": classes,
        "misses_narrower_than_40px": sum(x["width"] < 40 for x in misses),
        "misses": misses,
        "false_positive_list": [{k: v for k, v in x.items() if k != "k"} for x in fps],
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{found} of {faces} found ({found / faces:.4f}), {len(fps)} FPs; misses {classes}")


if __name__ == "__main__":
    main()
