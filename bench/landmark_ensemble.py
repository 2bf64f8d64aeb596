"""Landmark ensembles for the mobilefacenet pack: MTCNN's five points averaged with another
source's (``bench/landmark_sources.py``: MTCNN on the mirror image, libfacedetection's keypoints),
on LFW view 2.

Each variant's ArcFace chips are cut from the averaged points and embedded alone and with their
mirror (``bench/arcface_cache.py``). ``--lfw-folds 1-2`` chooses on folds 1-2 only (their 1,583
images); the full run (default) reports all 10 folds, folds 3-10, the open-set search of
``facegate eval identify`` and the LFW 3,000-person calibration of each variant. Run:

    nice -n 10 .venv/bin/python bench/landmark_ensemble.py --home DATA_DIR --lfw-folds 1-2
    nice -n 10 .venv/bin/python bench/landmark_ensemble.py --home DATA_DIR \
        --variants mtcnn+mtcnn-mirror

Writes bench/results/landmark_ensemble[_folds1-2].json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from arcface_cache import PACK_ENV, Points, detect_points, embed_points
from arcface_variants import calibration_sample, open_set_result
from facegate.eval.datasets import read_identities, read_lfw_pairs
from fusion import verify
from landmark_sources import averaged, other_points

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VARIANTS = ("mtcnn", "mtcnn+mtcnn-mirror", "mtcnn+lfd", "mtcnn+mtcnn-mirror+lfd")


def subset(pts: Points, keep: set[str]) -> Points:
    idx = [i for i, p in enumerate(pts.paths) if p in keep]
    return Points(
        [pts.paths[i] for i in idx],
        pts.detected[idx],
        pts.boxes[idx],
        pts.scores[idx],
        pts.points[idx],
    )


def ensemble(pts: Points, others: dict[str, np.ndarray], variant: str) -> Points:
    """The variant's points: the equal-weight mean of its sources where each has the face."""
    sources = variant.split("+")[1:]
    out = pts
    for k, source in enumerate(sources):  # running mean: weight 1 / (k + 2) on the new one
        out = averaged(out, others[source], 1.0 / (k + 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--lfw-root", type=Path, default=DATA / "lfw")
    ap.add_argument("--lfw-folds", default="1-10")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--cache", type=Path, default=REPO / "bench/.cache/arcface")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    os.environ[PACK_ENV] = "mobilefacenet"
    start, load0 = time.perf_counter(), os.getloadavg()
    pairs = read_lfw_pairs(args.lfw_root / "pairs.txt", args.lfw_root)
    identities = read_identities(args.lfw_root)
    every = sorted(
        {str(p) for ims in identities.values() for p in ims}
        | {str(p) for pair in pairs for p in (pair.a, pair.b)}
    )
    pts = detect_points("lfw", [Path(p) for p in every], "mtcnn", "centre", args.home, args.cache)
    everything = args.lfw_folds == "1-10"
    name = "lfw"
    if not everything:
        lo, _, hi = args.lfw_folds.partition("-")
        pairs = [p for p in pairs if int(lo) - 1 <= p.fold <= int(hi or lo) - 1]
        pts = subset(pts, {str(x) for pair in pairs for x in (pair.a, pair.b)})
        name = f"lfw-folds{args.lfw_folds}"
    variants = args.variants.split(",")
    needed = {s for v in variants for s in v.split("+")[1:]}
    others = {s: other_points("lfw", pts, s, args.home, args.cache) for s in sorted(needed)}
    det = dict(zip(pts.paths, pts.detected.tolist(), strict=True))
    out: dict[str, Any] = {"images": len(pts.paths), "pairs": len(pairs)}
    for source, o in others.items():
        have = np.isfinite(o).all(axis=(1, 2)) & pts.detected
        eye = np.linalg.norm(pts.points[have, 0] - pts.points[have, 1], axis=1)
        gap = np.linalg.norm(o[have] - pts.points[have], axis=2).mean(axis=1) / eye
        out[f"{source}|matched"] = int(have.sum())
        out[f"{source}|median_gap_eye_fraction"] = float(np.median(gap))
    for variant in variants:
        v_pts = ensemble(pts, others, variant)
        emb = embed_points(name, v_pts, "constant", args.home, args.cache, f"ens-{variant}")
        for flip in (False, True):
            vec = dict(zip(emb.paths, emb.vectors(flip), strict=True))
            key = f"{variant}|{'flip' if flip else 'plain'}"
            out[key] = (
                {"verify": verify(pairs, vec)}
                if everything
                else {"verify": {k: v for k, v in verify(pairs, vec).items() if "3_10" not in k}}
            )
            if everything:
                out[key]["identify"] = open_set_result(identities, vec)
                out[key]["calibration"] = calibration_sample(args.lfw_root, vec, det)
            print(key, json.dumps(out[key]["verify"]), file=sys.stderr)
    out.update(
        seconds=round(time.perf_counter() - start, 1),
        machine={"cores": os.cpu_count(), "load_average": [load0, os.getloadavg()]},
        command=" ".join(["bench/landmark_ensemble.py", *sys.argv[1:]]),
    )
    suffix = "" if everything else f"_folds{args.lfw_folds}"
    path = args.out or REPO / "bench" / "results" / f"landmark_ensemble{suffix}.json"
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
