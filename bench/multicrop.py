"""Multi-crop test-time augmentation for the mobilefacenet pack, beyond flip, on LFW view 2.

Each extra crop is the ArcFace chip of MTCNN's five points with the template changed: scaled
about the chip's centre (``s0.95``: the face 5% smaller in the chip, ``s1.05``: 5% larger) or
moved by a pixel (``dx1``, ``dy1``). It is cut exactly by giving ``bench/arcface_cache.py`` the
points that the usual alignment maps to the changed template. Every crop is embedded alone and
mirrored; a combination averages the unit embeddings of its crops (``flip`` is the base chip and
its mirror, as the ``mobilefacenet-flip`` pack does) and normalises again. ``--lfw-folds 1-2``
chooses on folds 1-2 (1,583 images); the full run reports all 10 folds, folds 3-10, the open-set
search and the LFW 3,000-person calibration of the combinations named in ``--combos``. Run:

    nice -n 10 .venv/bin/python bench/multicrop.py --home DATA_DIR --lfw-folds 1-2
    nice -n 10 .venv/bin/python bench/multicrop.py --home DATA_DIR --combos flip+scales

Writes bench/results/multicrop[_folds1-2].json.
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

from arcface_cache import PACK_ENV, Embedded, Points, detect_points, embed_points
from arcface_variants import calibration_sample, open_set_result
from facegate.eval.datasets import read_identities, read_lfw_pairs
from facegate.pipeline.align import ARCFACE_TEMPLATE_112, arcface_transform
from fusion import verify
from landmark_ensemble import subset

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CROPS = {"s0.95": (0.95, 0, 0), "s1.05": (1.05, 0, 0), "dx1": (1.0, 1, 0), "dy1": (1.0, 0, 1)}
COMBOS = {  # crop name -> use its plain and mirrored embeddings
    "plain": ["base:plain"],
    "flip": ["base"],
    "flip+scales": ["base", "s0.95", "s1.05"],
    "flip+shifts": ["base", "dx1", "dy1"],
    "flip+all": ["base", "s0.95", "s1.05", "dx1", "dy1"],
    "flip+s0.95": ["base", "s0.95"],
    "flip+s1.05": ["base", "s1.05"],
}


def crop_points(points: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    """Points whose ArcFace chip is ``points``' chip scaled by ``scale`` about the centre and
    moved by ``(dx, dy)`` pixels: the template pulled back through the changed transform."""
    out = np.full_like(points, np.nan)
    c = 56.0
    change = np.array(
        [[scale, 0, (1 - scale) * c + dx], [0, scale, (1 - scale) * c + dy], [0, 0, 1]]
    )
    for i, p in enumerate(points):
        if not np.isfinite(p).all():
            continue
        m = np.vstack([arcface_transform(p, 112), [0, 0, 1]])
        back = np.linalg.inv(change @ m)
        t = np.hstack([ARCFACE_TEMPLATE_112, np.ones((5, 1))])
        out[i] = (t @ back.T)[:, :2]
    return out


def combine(embs: dict[str, Embedded], names: list[str]) -> np.ndarray:
    total = None
    for name in names:
        crop, _, which = name.partition(":")
        e = embs[crop]
        parts = [e.plain] if which == "plain" else [e.plain, e.mirror]
        for v in parts:
            u = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            total = u if total is None else total + u
    assert total is not None  # noqa: S101 - every combination names a crop
    out: np.ndarray = total / np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--lfw-root", type=Path, default=DATA / "lfw")
    ap.add_argument("--lfw-folds", default="1-10")
    ap.add_argument("--combos", default=",".join(COMBOS))
    ap.add_argument("--cache", type=Path, default=REPO / "bench/.cache/arcface")
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
    base = embed_points("lfw", pts, "constant", args.home, args.cache, "mtcnn")
    everything, name = args.lfw_folds == "1-10", "lfw"
    if not everything:
        lo, _, hi = args.lfw_folds.partition("-")
        pairs = [p for p in pairs if int(lo) - 1 <= p.fold <= int(hi or lo) - 1]
        pts = subset(pts, {str(x) for pair in pairs for x in (pair.a, pair.b)})
        name = f"lfw-folds{args.lfw_folds}"
    combos = {c: COMBOS[c] for c in args.combos.split(",")}
    needed = {n.partition(":")[0] for names in combos.values() for n in names}
    rows = [base.paths.index(p) for p in pts.paths]
    embs = {"base": Embedded(pts.paths, base.ok[rows], base.plain[rows], base.mirror[rows],
                             base.outside[rows])}  # fmt: skip
    for crop in sorted(needed - {"base"}):
        moved = Points(pts.paths, pts.detected, pts.boxes, pts.scores,
                       crop_points(pts.points, *CROPS[crop]))  # fmt: skip
        embs[crop] = embed_points(name, moved, "constant", args.home, args.cache, f"crop-{crop}")
    det = dict(zip(pts.paths, pts.detected.tolist(), strict=True))
    out: dict[str, Any] = {"images": len(pts.paths), "pairs": len(pairs)}
    for combo, names in combos.items():
        vec = dict(zip(pts.paths, combine(embs, names), strict=True))
        res = {k: v for k, v in verify(pairs, vec).items() if everything or "3_10" not in k}
        out[combo] = {"chips": sum(1 if ":" in n else 2 for n in names), "verify": res}
        if everything:
            out[combo]["identify"] = open_set_result(identities, vec)
            out[combo]["calibration"] = calibration_sample(args.lfw_root, vec, det)
        print(combo, json.dumps(res), file=sys.stderr)
    out.update(
        seconds=round(time.perf_counter() - start, 1),
        machine={"cores": os.cpu_count(), "load_average": [load0, os.getloadavg()]},
        command=" ".join(["bench/multicrop.py", *sys.argv[1:]]),
    )
    suffix = "" if everything else f"_folds{args.lfw_folds}"
    path = REPO / "bench" / "results" / f"multicrop{suffix}.json"
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
