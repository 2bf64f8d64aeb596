"""ArcFace alignment variants for the mobilefacenet pack: UTKFace impostor scores, LFW accuracy,
open-set search and test-time flip, from one cached detection pass per point source.

Point sources (``bench/arcface_cache.py``): ``mtcnn`` (the pack's decided alignment, R-Net and
O-Net crops padded), ``mtcnn-stretch`` (facenet-pytorch's crops, as the engine ran MTCNN before),
``mtcnn-imgpad`` (that on a replicate-padded copy), ``mtcnn-refine`` (``mtcnn`` with the five
points read again by a second O-Net pass on the final box), ``hog68`` (HOG + 68 landmarks).
Chip borders:
``constant`` (black outside the image, the engine's), ``grey``, ``replicate`` or ``reflect``.
Each chip is embedded alone and with its mirror, so "flip" costs nothing more to measure.

UTKFace (``--utkface``): the face of each crop is the largest one (as ``facegate eval fairness``
chooses); images without a detected face are left out, as there. Figures: mean impostor cosine
over every pair (all ages; and over the images every source found a face in), the fraction of
chip pixels outside the crop, and among adults 20-59 the FMR per race at the pack's shipped
``fmr=1e-3`` threshold (within-race pairs; "within-race pooled" sums them; "all pairs" counts
every pair of different adult files, across races too). Then a deployment calibration: the
files split in two halves by a fixed permutation (UTKFace has no identity labels, so the halves
are file-disjoint, not provably person-disjoint), the operating points fitted on one half's
adults the way ``facegate models calibrate`` fits them, and the FMRs measured on the other half
(``--write-half DIR`` links half 0's adult files, to run the command itself on them).

LFW (``--lfw``): view-2 10-fold accuracy (misses at the fallback box), folds 1-2 alone, TAR at
FMR 1e-3, and the open-set search of ``facegate eval identify`` (gallery: first image of each
person with 2+ images), each with and without flip; with ``--calibrate`` each variant's
calibration table on ``bench/calibrate.py``'s 3,000-person sample; with ``mtcnn`` and ``hog68``
both, the mean of their embeddings (fusion). ``--lfw-folds 1-2`` chooses on a subset (its pairs
only, no open set). Every variant's vectors are written to the cache folder for
``bench/fair_norm.py --vectors``. Run:

    nice -n 10 .venv/bin/python bench/arcface_variants.py --home DATA_DIR --utkface
    nice -n 10 .venv/bin/python bench/arcface_variants.py --home DATA_DIR --lfw --sources mtcnn \
        --borders constant --calibrate

Writes bench/results/arcface_variants_<dataset>.json (``--out`` for another name).
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

from arcface_cache import (
    BORDERS,
    PACK_ENV,
    Embedded,
    Points,
    bench_pack,
    detect_points,
    embed_points,
    refine_points,
)
from facegate.config import EngineConfig
from facegate.errors import ConfigError
from facegate.eval import metrics as m
from facegate.eval.datasets import UTK_RACES, read_identities, read_lfw_pairs, read_utkface
from facegate.eval.identify import split_open_set
from facegate.pipeline.calibration_fit import fit_calibration
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def pair_fmr(x: np.ndarray, threshold: float) -> tuple[int, int]:
    iu = np.triu_indices(len(x), k=1)
    s = (x @ x.T)[iu]
    return int((s >= threshold).sum()), int(s.size)


def adult_fmrs(vec: np.ndarray, races: np.ndarray, threshold: float) -> dict[str, Any]:
    """FMR per race, within-race pooled and all-pairs, among the rows given (adults)."""
    per: dict[str, list[int]] = {}
    for race in UTK_RACES:
        rows = vec[races == race]
        per[race] = list(pair_fmr(rows, threshold)) if len(rows) > 1 else [0, 0]
    pooled = [sum(c[0] for c in per.values()), sum(c[1] for c in per.values())]
    every = pair_fmr(vec, threshold)
    fmr = {r: c[0] / c[1] for r, c in per.items() if c[1]}
    return {
        "threshold": threshold,
        "fmr": fmr,
        "pairs": {r: c[1] for r, c in per.items()},
        "max_min_ratio": m.max_min_ratio(list(fmr.values())),
        "within_race_pooled_fmr": pooled[0] / pooled[1],
        "all_pairs_fmr": every[0] / every[1],
        "all_pairs": every[1],
    }


def export(cache: Path, name: str, key: str, emb: Embedded, pts: Points, flip: bool) -> None:
    """The variant's vectors for ``bench/fair_norm.py --vectors``."""
    pack = "" if bench_pack() == "mobilefacenet" else f"-{bench_pack()}"
    file = cache / f"vectors-{name}-{key.replace('|', '-')}{pack}.npz"
    np.savez(file, paths=np.array(emb.paths), vectors=emb.vectors(flip), detected=pts.detected)


def utk_variant(
    emb: Embedded, pts: Points, faces: list[Any], flip: bool, common: np.ndarray, shipped: float
) -> dict[str, Any]:
    vec = emb.vectors(flip)
    found = pts.detected & emb.ok
    ages = np.array([f.age for f in faces])
    races = np.array([f.race for f in faces])
    adult = found & (ages >= 20) & (ages <= 59)
    iu_all = vec[found]
    imp = (iu_all @ iu_all.T)[np.triu_indices(len(iu_all), k=1)]
    both = vec[common]
    imp_c = (both @ both.T)[np.triu_indices(len(both), k=1)]
    out: dict[str, Any] = {
        "faces_found": int(found.sum()),
        "impostor_mean_all_pairs": float(imp.mean()),
        "impostor_mean_common_images": float(imp_c.mean()),
        "common_images": int(common.sum()),
        "chip_outside_mean": float(np.nanmean(emb.outside[found])),
        "chip_outside_median": float(np.nanmedian(emb.outside[found])),
        "chips_with_any_outside": float(np.mean(emb.outside[found] > 0.001)),
        "adults_at_shipped_fmr_1e-3": adult_fmrs(vec[adult], races[adult], shipped),
    }
    try:
        out["deployment"] = deployment(vec, races, adult)
    except ConfigError as exc:  # too few people in a half
        out["deployment"] = str(exc)
    return out


def utk_halves(count: int) -> list[np.ndarray]:
    """Two file-disjoint halves of UTKFace's files (a fixed permutation)."""
    order = np.random.default_rng(0).permutation(count)
    halves = [np.zeros(count, bool), np.zeros(count, bool)]
    halves[0][order[0::2]], halves[1][order[1::2]] = True, True
    return halves


def write_half(root: Path, folder: Path, half: int) -> int:
    """Links to one half's adult files, for ``facegate models calibrate --impostors``."""
    faces, _ = read_utkface(root)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = utk_halves(len(faces))[half]
    count = 0
    for face, keep in zip(faces, chosen, strict=True):
        if keep and 20 <= face.age <= 59:
            (folder / face.path.name).symlink_to(face.path.resolve())
            count += 1
    return count


def deployment(vec: np.ndarray, races: np.ndarray, adult: np.ndarray) -> list[dict[str, Any]]:
    """Fit on one half's adults (``facegate models calibrate``'s fit), measure on the other's."""
    halves = utk_halves(len(vec))
    runs = []
    for fit, test in ((0, 1), (1, 0)):
        fit_rows = halves[fit] & adult
        calibration, stats = fit_calibration(vec[fit_rows], bench_pack(), "UTKFace half")
        rows = halves[test] & adult
        runs.append(
            {
                "fitted_on_half": fit,
                "fit_people": int(fit_rows.sum()),
                "threshold_fmr_1e-3": calibration.threshold_for_fmr(1e-3),
                "threshold_fmr_1e-2": calibration.threshold_for_fmr(1e-2),
                "fit_impostor_mean": stats["mean"],
                "other_half_at_fmr_1e-3": adult_fmrs(
                    vec[rows], races[rows], calibration.threshold_for_fmr(1e-3)
                ),
            }
        )
    return runs


def run_utkface(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    faces, _ = read_utkface(args.utkface_root)
    paths = [f.path for f in faces]
    pts = {  # mtcnn-refine: the engine's MTCNN with refine_keypoints, run afresh
        s: detect_points("utk", paths, s, "largest", args.home, cache, args.workers)
        for s in args.sources
    }
    common = np.logical_and.reduce([p.detected for p in pts.values()])
    out: dict[str, Any] = {"images": len(paths)}
    for source, p in pts.items():
        for border in args.borders:
            emb = embed_points("utk", p, border, args.home, cache, source)
            for flip in (False, True):
                key = f"{source}|{border}|{'flip' if flip else 'plain'}"
                out[key] = utk_variant(emb, p, faces, flip, common & emb.ok, args.shipped)
                export(cache, "utk", key, emb, p, flip)
    return out


def lfw_pairs_result(
    pairs: list[Any], vec: dict[str, np.ndarray], shipped: float
) -> dict[str, Any]:
    a = np.stack([vec[str(p.a)] for p in pairs])
    b = np.stack([vec[str(p.b)] for p in pairs])
    scores = (a * b).sum(axis=1)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    k = m.kfold_accuracy(scores, same, folds)
    sub = folds < 2
    k2 = m.kfold_accuracy(scores[sub], same[sub], folds[sub]) if len(set(folds[sub])) == 2 else k
    gen, imp = scores[same], scores[~same]
    return {
        "accuracy": float(k.mean),
        "accuracy_std": float(k.accuracies.std()),
        "folds": [round(float(x), 4) for x in k.accuracies],
        "accuracy_folds_1_2": float(k2.mean),
        "auc": m.auc(m.roc_curve(gen, imp)),
        "tar_at_fmr_1e-3": m.tar_at_fmr(gen, imp, 1e-3)[0],
        "fnmr_at_shipped_fmr_1e-3": float(np.mean(gen < shipped)),
        "mean_genuine": float(gen.mean()),
        "mean_impostor": float(imp.mean()),
    }


def open_set_result(
    identities: dict[str, list[Path]], vec: dict[str, np.ndarray]
) -> dict[str, Any]:
    split = split_open_set(identities)
    gallery = np.stack([vec[str(p)] for p in split.gallery])
    probes = np.stack([vec[str(p)] for p, _ in split.mated])
    truth = np.array([g for _, g in split.mated])
    scores_m = probes @ gallery.T
    mate = scores_m[np.arange(truth.size), truth].astype(np.float64)
    ranks = m.mate_ranks(scores_m, truth)
    top = (np.stack([vec[str(p)] for p in split.nonmated]) @ gallery.T).max(axis=1)
    fnir, thr = m.fnir_at_fpir(mate, ranks, top.astype(np.float64), 1e-2)
    fnir3, thr3 = m.fnir_at_fpir(mate, ranks, top.astype(np.float64), 1e-3)
    return {
        "gallery": len(split.gallery),
        "mated": int(truth.size),
        "nonmated": int(top.size),
        "rank1": float(np.mean(ranks == 1)),
        "fnir_at_fpir_1e-2": fnir,
        "threshold_1e-2": thr,
        "fnir_at_fpir_1e-3": fnir3,
        "threshold_1e-3": thr3,
    }


def calibration_sample(
    lfw: Path, vec: dict[str, np.ndarray], det: dict[str, bool]
) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "bench"))
    from calibrate import first_images

    picks = [str(p) for p in first_images(lfw, 3000)]
    rows = np.stack([vec[p] for p in picks if det.get(p, False)])
    calibration, stats = fit_calibration(rows, bench_pack(), "LFW 3,000-person sample")
    return {
        "people": len(rows),
        "no_face": len(picks) - len(rows),
        "fmr_table": [list(r) for r in calibration.fmr_table],
        "impostor_stats": stats,
        "thresholds": {
            f"fmr={f:g}": calibration.threshold_for_fmr(f) for f in (1e-2, 1e-3, 1e-4, 1e-5)
        },
    }


def run_lfw(args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    pairs = read_lfw_pairs(args.lfw_root / "pairs.txt", args.lfw_root)
    identities = read_identities(args.lfw_root)
    everything = args.lfw_folds == "1-10"
    if not everything:  # choosing on a subset: its pairs only, no open-set search
        lo, _, hi = args.lfw_folds.partition("-")
        pairs = [p for p in pairs if int(lo) - 1 <= p.fold <= int(hi or lo) - 1]
    paths = sorted(
        ({str(p) for ims in identities.values() for p in ims} if everything else set())
        | {str(p) for pair in pairs for p in (pair.a, pair.b)}
    )
    name = "lfw" if everything else f"lfw-folds{args.lfw_folds}"
    out: dict[str, Any] = {"images": len(paths), "pairs": len(pairs), "folds": args.lfw_folds}
    kept: dict[tuple[str, str], Embedded] = {}
    for source in args.sources:
        pts = detect_points(
            "lfw",
            [Path(p) for p in paths],
            source.removesuffix("-refine"),
            "centre",
            args.home,
            cache,
            args.workers,
        )
        if source == "mtcnn-refine":
            pts = refine_points(name, pts, args.home, cache)
        det = dict(zip(pts.paths, pts.detected.tolist(), strict=True))
        out[f"{source}|misses"] = int((~pts.detected).sum())
        for border in args.borders:
            emb = embed_points(name, pts, border, args.home, cache, source)
            out[f"{source}|{border}|chip_outside_mean"] = float(np.nanmean(emb.outside))
            for flip in (False, True):
                key = f"{source}|{border}|{'flip' if flip else 'plain'}"
                vec = dict(zip(emb.paths, emb.vectors(flip), strict=True))
                export(cache, name, key, emb, pts, flip)
                out[key] = {"verify": lfw_pairs_result(pairs, vec, args.shipped)}
                if everything:
                    out[key]["identify"] = open_set_result(identities, vec)
                if args.calibrate and everything:
                    out[key]["calibration"] = calibration_sample(args.lfw_root, vec, det)
            kept[(source, border)] = emb
    for border in args.borders:  # fusion: the mean of the two alignments' embeddings
        if ("mtcnn", border) in kept and ("hog68", border) in kept:
            for flip in (False, True):
                fused = kept[("mtcnn", border)].vectors(flip) + kept[("hog68", border)].vectors(
                    flip
                )
                fused /= np.maximum(np.linalg.norm(fused, axis=1, keepdims=True), 1e-12)
                vec = dict(zip(kept[("mtcnn", border)].paths, fused, strict=True))
                key = f"fused-mtcnn-hog68|{border}|{'flip' if flip else 'plain'}"
                out[key] = {"verify": lfw_pairs_result(pairs, vec, args.shipped)}
                if everything:
                    out[key]["identify"] = open_set_result(identities, vec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=None, help="data dir with the pack and MTCNN")
    ap.add_argument("--pack", default="mobilefacenet", help="an ArcFace-format pack (no flip)")
    ap.add_argument("--utkface", action="store_true")
    ap.add_argument("--lfw", action="store_true")
    ap.add_argument("--utkface-root", type=Path, default=DATA / "utkface")
    ap.add_argument("--lfw-root", type=Path, default=DATA / "lfw")
    ap.add_argument("--lfw-folds", default="1-10", help="a subset to choose on, e.g. 1-2")
    ap.add_argument("--sources", default="mtcnn,mtcnn-stretch,mtcnn-imgpad,hog68")
    ap.add_argument("--borders", default=",".join(BORDERS))
    ap.add_argument(
        "--calibrate", action="store_true", help="LFW: each variant's calibration table"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=REPO / "bench/.cache/arcface")
    ap.add_argument("--out", type=Path, default=None, help="result file (one dataset)")
    ap.add_argument("--write-half", type=Path, default=None, help="links to half 0's adults")
    args = ap.parse_args()
    if args.write_half is not None:
        print(write_half(args.utkface_root, args.write_half, 0))  # noqa: T201
        return
    os.environ[PACK_ENV] = args.pack
    calibration = FaceEngine(EngineConfig(pack=args.pack), home=args.home).calibration
    args.shipped = calibration.operating_point("fmr=1e-3").threshold
    args.sources = args.sources.split(",")
    args.borders = args.borders.split(",")
    for name, wanted, run in (("utkface", args.utkface, run_utkface), ("lfw", args.lfw, run_lfw)):
        if not wanted:
            continue
        start, load0 = time.perf_counter(), os.getloadavg()
        result = run(args, args.cache)
        result.update(
            seconds=round(time.perf_counter() - start, 1),
            machine={"cores": os.cpu_count(), "load_average": [load0, os.getloadavg()]},
            command=" ".join(["bench/arcface_variants.py", *sys.argv[1:]]),
        )
        suffix = "" if name == "utkface" or args.lfw_folds == "1-10" else f"_folds{args.lfw_folds}"
        out = args.out or REPO / "bench" / "results" / f"arcface_variants_{name}{suffix}.json"
        out.write_text(json.dumps(result, indent=2, default=float) + "\n")
        print(json.dumps(result, indent=2, default=float))  # noqa: T201


if __name__ == "__main__":
    main()
