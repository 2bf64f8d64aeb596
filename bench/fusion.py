"""Score-level fusion of mobilefacenet and dlib (or another ArcFace-format pack): LFW 10-fold,
open set, UTKFace fairness.

A fused template is the concatenation ``[sqrt(w) * a, sqrt(1 - w) * b]`` of the two unit
embeddings (``a``: mobilefacenet on the ArcFace chip from MTCNN's five points, with or without
test-time flip; ``b``: dlib's 128-d ResNet on its 150x150 chip from its 5-point predictor in
MTCNN's box), so the cosine of two templates is ``w * cos_a + (1 - w) * cos_b`` and the
template is still unit length (inner-product search works unchanged). The weight ``w`` is
chosen on LFW view-2 folds 1-2 only (each fold at the other's best threshold; ties go to the
weight nearest the middle of the tied run), then reported on all 10 folds and folds 3-10, the
open-set search of ``facegate eval identify`` (gallery 1,559) at FPIR 1% and 0.1%, the
calibration on ``bench/calibrate.py``'s LFW 3,000-person sample, and (``--utkface``) the FMR
per race of UTKFace adults 20-59 at that calibration's ``fmr=1e-3`` threshold.

The five points and the mobilefacenet embeddings come from ``bench/arcface_cache.py``'s cache
(built by ``bench/arcface_variants.py --lfw --sources mtcnn --borders constant`` and
``--utkface --sources mtcnn --borders constant``, or here on first use); the dlib embeddings
from ``bench/dlib_cache.py``. Run:

    nice -n 10 .venv/bin/python bench/fusion.py --home DATA_DIR --utkface

``--second PACK`` fuses mobilefacenet with another ArcFace-format pack installed under
``--home`` (a user pack from ``facegate models add``) instead of dlib: its embeddings come from
the same five points and chips (``embed_points`` with that pack), with and without flip.

Writes bench/results/fusion.json (``--out`` for another name).
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

from arcface_cache import PACK_ENV, detect_points, embed_points
from arcface_variants import adult_fmrs, calibration_sample, deployment, open_set_result
from dlib_cache import embed_dlib
from facegate.eval import metrics as m
from facegate.eval.datasets import read_identities, read_lfw_pairs, read_utkface

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
WEIGHTS = [round(w, 2) for w in np.arange(0.0, 1.0001, 0.05)]


def fuse(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Unit rows of ``a`` and ``b`` concatenated with weights ``sqrt(w)``, ``sqrt(1 - w)``."""
    return np.concatenate([np.sqrt(w) * a, np.sqrt(1.0 - w) * b], axis=1).astype(np.float32)


def pair_scores(pairs: list[Any], vec: dict[str, np.ndarray]) -> np.ndarray:
    a = np.stack([vec[str(p.a)] for p in pairs])
    b = np.stack([vec[str(p.b)] for p in pairs])
    return (a * b).sum(axis=1)


def verify(pairs: list[Any], vec: dict[str, np.ndarray]) -> dict[str, Any]:
    scores = pair_scores(pairs, vec)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    k = m.kfold_accuracy(scores, same, folds)
    sub = folds < 2
    k2 = m.kfold_accuracy(scores[sub], same[sub], folds[sub])
    gen, imp = scores[same], scores[~same]
    return {
        "accuracy": k.mean,
        "accuracy_std": k.std,
        "folds": [round(float(x), 4) for x in k.accuracies],
        "accuracy_folds_1_2": k2.mean,
        "accuracy_folds_3_10": float(np.mean(k.accuracies[2:])),
        "errors": int(round((1 - k.mean) * len(pairs))),
        "auc": m.auc(m.roc_curve(gen, imp)),
        "eer_folds_1_2": m.eer(scores[sub & same], scores[sub & ~same])[0],
        "tar_at_fmr_1e-3": m.tar_at_fmr(gen, imp, 1e-3)[0],
    }


def choose_weight(grid: list[dict[str, Any]]) -> float:
    """The weight with the best folds 1-2 accuracy (lower EER there breaks ties; then the
    middle of the tied run)."""
    best = max(g["accuracy_folds_1_2"] for g in grid)
    tied = [g for g in grid if g["accuracy_folds_1_2"] == best]
    low = min(g["eer_folds_1_2"] for g in tied)
    tied = [g for g in tied if g["eer_folds_1_2"] == low]
    return float(tied[len(tied) // 2]["w"])


def variants(mfn: Any, dlib: Any, second: str = "dlib") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        f"mfn+{second}": (mfn.vectors(False), dlib.vectors(False)),
        f"mfn-flip+{second}": (mfn.vectors(True), dlib.vectors(False)),
        f"mfn-flip+{second}-flip": (mfn.vectors(True), dlib.vectors(True)),
    }


def embed_second(name: str, pts: Any, home: Path | None, cache: Path, second: str) -> Any:
    """The second embedder's vectors at the cached points: dlib's, or an ArcFace pack's."""
    if second == "dlib":
        return embed_dlib(name, pts, home, cache)
    os.environ[PACK_ENV] = second
    try:
        return embed_points(name, pts, "constant", home, cache, "mtcnn")
    finally:
        os.environ[PACK_ENV] = "mobilefacenet"


def run_lfw(args: argparse.Namespace, cache: Path) -> tuple[dict[str, Any], dict[str, float]]:
    pairs = read_lfw_pairs(args.lfw_root / "pairs.txt", args.lfw_root)
    identities = read_identities(args.lfw_root)
    paths = sorted(
        {str(p) for ims in identities.values() for p in ims}
        | {str(p) for pair in pairs for p in (pair.a, pair.b)}
    )
    pts = detect_points("lfw", [Path(p) for p in paths], "mtcnn", "centre", args.home, cache)
    mfn = embed_points("lfw", pts, "constant", args.home, cache, "mtcnn")
    dlib = embed_second("lfw", pts, args.home, cache, args.second)
    det = dict(zip(pts.paths, pts.detected.tolist(), strict=True))
    out: dict[str, Any] = {"images": len(paths), "pairs": len(pairs)}
    chosen: dict[str, float] = {}
    for name, (a, b) in variants(mfn, dlib, args.second).items():
        grid = []
        for w in WEIGHTS:
            r = verify(pairs, dict(zip(pts.paths, fuse(a, b, w), strict=True)))
            grid.append({"w": w, **{k: r[k] for k in ("accuracy_folds_1_2", "eer_folds_1_2")}})
        w = choose_weight(grid)
        chosen[name] = w
        out[name] = {"grid_folds_1_2": grid, "chosen_w": w}
        for label, weight in ((f"w={w}", w), ("w=1 (mobilefacenet alone)", 1.0),
                              (f"w=0 ({args.second} alone)", 0.0)):  # fmt: skip
            vec = dict(zip(pts.paths, fuse(a, b, weight), strict=True))
            out[name][label] = {
                "verify": verify(pairs, vec),
                "identify": open_set_result(identities, vec),
                "calibration": calibration_sample(args.lfw_root, vec, det),
            }
        print(name, w, json.dumps(out[name][f"w={w}"]["verify"]), file=sys.stderr)
    return out, chosen


def run_utkface(
    args: argparse.Namespace, cache: Path, chosen: dict[str, float], lfw: dict[str, Any]
) -> dict[str, Any]:
    faces, _ = read_utkface(args.utkface_root)
    paths = [f.path for f in faces]
    pts = detect_points("utk", paths, "mtcnn", "largest", args.home, cache)
    mfn = embed_points("utk", pts, "constant", args.home, cache, "mtcnn")
    dlib = embed_second("utk", pts, args.home, cache, args.second)
    ages = np.array([f.age for f in faces])
    races = np.array([f.race for f in faces])
    adult = pts.detected & (ages >= 20) & (ages <= 59)
    out: dict[str, Any] = {"images": len(paths), "adults_with_face": int(adult.sum())}
    for name, (a, b) in variants(mfn, dlib, args.second).items():
        w = chosen[name]
        for label, weight in ((f"w={w}", w), ("w=1 (mobilefacenet alone)", 1.0),
                              (f"w=0 ({args.second} alone)", 0.0)):  # fmt: skip
            vec = fuse(a, b, weight)
            thr = lfw[name][label]["calibration"]["thresholds"]["fmr=0.001"]
            found = pts.detected
            x = vec[found]
            imp = (x @ x.T)[np.triu_indices(len(x), k=1)]
            out[f"{name}|{label}"] = {
                "impostor_mean_all_pairs": float(imp.mean()),
                "adults_at_lfw_fmr_1e-3": adult_fmrs(vec[adult], races[adult], thr),
                "deployment": deployment(vec, races, adult),
            }
    return out


def sweep(args: argparse.Namespace, cache: Path) -> list[dict[str, Any]]:
    """Every weight of the grid for mobilefacenet-flip + dlib: LFW 10-fold, open-set FNIR at
    FPIR 1%, and UTKFace adults at that weight's own LFW ``fmr=1e-3`` threshold (the trade-off;
    not a way to choose, which stays on folds 1-2)."""
    pairs = read_lfw_pairs(args.lfw_root / "pairs.txt", args.lfw_root)
    identities = read_identities(args.lfw_root)
    paths = sorted(
        {str(p) for ims in identities.values() for p in ims}
        | {str(p) for pair in pairs for p in (pair.a, pair.b)}
    )
    pts = detect_points("lfw", [Path(p) for p in paths], "mtcnn", "centre", args.home, cache)
    a = embed_points("lfw", pts, "constant", args.home, cache, "mtcnn").vectors(True)
    b = embed_dlib("lfw", pts, args.home, cache).vectors(False)
    det = dict(zip(pts.paths, pts.detected.tolist(), strict=True))
    faces, _ = read_utkface(args.utkface_root)
    upts = detect_points("utk", [f.path for f in faces], "mtcnn", "largest", args.home, cache)
    ua = embed_points("utk", upts, "constant", args.home, cache, "mtcnn").vectors(True)
    ub = embed_dlib("utk", upts, args.home, cache).vectors(False)
    ages = np.array([f.age for f in faces])
    adult = upts.detected & (ages >= 20) & (ages <= 59)
    races = np.array([f.race for f in faces])
    rows = []
    for w in WEIGHTS[1:]:
        vec = dict(zip(pts.paths, fuse(a, b, w), strict=True))
        thr = calibration_sample(args.lfw_root, vec, det)["thresholds"]["fmr=0.001"]
        utk = adult_fmrs(fuse(ua, ub, w)[adult], races[adult], thr)
        ident = open_set_result(identities, vec)
        rows.append(
            {
                "w": w,
                "lfw_10_fold": verify(pairs, vec)["accuracy"],
                "fnir_at_fpir_1e-2": ident["fnir_at_fpir_1e-2"],
                "fnir_at_fpir_1e-3": ident["fnir_at_fpir_1e-3"],
                "threshold_fmr_1e-3": thr,
                "utk_adult_fmr": utk["fmr"],
                "utk_max_min_ratio": utk["max_min_ratio"],
                "utk_all_pairs_fmr": utk["all_pairs_fmr"],
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=None, help="data dir: dlib, mobilefacenet, mtcnn")
    ap.add_argument("--utkface", action="store_true", help="also UTKFace adults per race")
    ap.add_argument("--lfw-root", type=Path, default=DATA / "lfw")
    ap.add_argument("--utkface-root", type=Path, default=DATA / "utkface")
    ap.add_argument("--cache", type=Path, default=REPO / "bench/.cache/arcface")
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/fusion.json")
    ap.add_argument("--sweep", action="store_true", help="every weight, LFW and UTKFace")
    ap.add_argument("--second", default="dlib", help="dlib, or an ArcFace-format pack to fuse")
    args = ap.parse_args()
    os.environ[PACK_ENV] = "mobilefacenet"
    if args.sweep:
        out = REPO / "bench/results/fusion_sweep.json"
        out.write_text(json.dumps(sweep(args, args.cache), indent=2, default=float) + "\n")
        return
    start, load0 = time.perf_counter(), os.getloadavg()
    lfw, chosen = run_lfw(args, args.cache)
    result: dict[str, Any] = {"lfw": lfw}
    if args.utkface:
        result["utkface"] = run_utkface(args, args.cache, chosen, lfw)
    result.update(
        seconds=round(time.perf_counter() - start, 1),
        machine={"cores": os.cpu_count(), "load_average": [load0, os.getloadavg()]},
        command=" ".join(["bench/fusion.py", *sys.argv[1:]]),
    )
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
