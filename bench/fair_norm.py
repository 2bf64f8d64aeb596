"""Fair score normalisation measured: FMR per race on UTKFace adults, and LFW accuracy.

Clusters are always fitted on people disjoint from those reported on:

- UTKFace (adults 20-59, FMR per race at one global threshold): the 1,500 files are split in
  two halves (fixed seed); normalisation fitted on the other half (ages ``--fit-ages``) plus
  one LFW photo per person is applied to impostor pairs within each race of this half; both
  halves' counts are pooled. UTKFace has no identity labels: a person with two files in different
  halves would break the split (rare in UTKFace; not checkable).
- LFW view 2 (10-fold accuracy, the protocol's own thresholds): normalisation fitted on
  UTKFace (ages --fit-ages) is applied to every pair score.

The "raw" rows use the same global threshold as the normalised ones (the fitted set's own
``thr_G`` at ``--fmr``), plus the pack's shipped calibration where it has one. Run:

    nice -n 10 .venv/bin/python bench/fair_norm.py --pack mobilefacenet --home DATA_DIR
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from facegate.config import EngineConfig, ImageLimits
from facegate.errors import ConfigError
from facegate.eval import metrics as m
from facegate.eval.cache import EmbeddingCache
from facegate.eval.datasets import UTK_RACES, read_lfw_pairs, read_utkface
from facegate.eval.extract import Extractor, embed_images, engine_variant
from facegate.pipeline.engine import FaceEngine
from facegate.pipeline.fair_norm import FairNormaliser, fit_fair_normaliser

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def group_fmr(x: np.ndarray, threshold: float, norm: FairNormaliser | None) -> tuple[int, int]:
    """(false matches, impostor pairs) among the rows of ``x`` (different people)."""
    iu = np.triu_indices(len(x), k=1)
    scores = (x @ x.T)[iu].astype(np.float64)
    if norm is not None:
        scores = norm.normalise(scores, x[iu[0]], x[iu[1]])
    return int((scores >= threshold).sum()), len(scores)


def race_table(counts: dict[str, list[int]]) -> dict[str, Any]:
    fmr = {race: (c[0] / c[1] if c[1] else None) for race, c in counts.items()}
    values = [v for v in fmr.values() if v is not None]
    ratio = m.max_min_ratio(values) if values else None
    total = [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]
    return {
        "fmr": fmr,
        "pairs": {r: c[1] for r, c in counts.items()},
        "max_min_ratio": ratio,
        "overall_fmr": total[0] / total[1] if total[1] else None,
    }


def adult(face: Any, ages: tuple[int, int]) -> bool:
    return ages[0] <= face.age <= ages[1]


def utk_measure(
    utk: list[Any],
    vec: dict[Path, np.ndarray],
    lfw_fit: np.ndarray,
    k: int,
    fmr: float,
    shipped: float | None,
    ages: tuple[int, int],
) -> dict[str, Any]:
    have = [f for f in utk if f.path in vec]
    order = np.random.default_rng(0).permutation(len(have))
    halves = [[have[i] for i in order[h::2]] for h in (0, 1)]
    kinds = ["raw_fit_threshold", "fair"] + (["raw_shipped_calibration"] if shipped else [])
    counts: dict[str, dict[str, list[int]]] = {kd: {r: [0, 0] for r in UTK_RACES} for kd in kinds}
    fitted = []
    for h in (0, 1):
        other = [vec[f.path] for f in halves[1 - h] if adult(f, ages)]
        fit = np.concatenate([np.stack(other), lfw_fit])
        norm = fit_fair_normaliser(fit, k=k, fmr=fmr, source="UTKFace other half + LFW")
        fitted.append(
            {
                "people": len(fit),
                "global_threshold": norm.global_threshold,
                "deltas": norm.deltas.round(4).tolist(),
            }
        )
        for race in UTK_RACES:
            group = [vec[f.path] for f in halves[h] if f.race == race and 20 <= f.age <= 59]
            if len(group) < 2:
                continue
            x = np.stack(group)
            for kind, thr, use in (
                ("raw_fit_threshold", norm.global_threshold, None),
                ("fair", norm.global_threshold, norm),
                ("raw_shipped_calibration", shipped, None),
            ):
                if kind in counts and thr is not None:
                    fm, n = group_fmr(x, thr, use)
                    counts[kind][race][0] += fm
                    counts[kind][race][1] += n
    return {"fits": fitted, **{kind: race_table(c) for kind, c in counts.items()}}


def lfw_measure(
    pairs: list[Any], vec: dict[Path, np.ndarray], norm: FairNormaliser
) -> dict[str, Any]:
    ok = np.array([p.a in vec and p.b in vec for p in pairs])
    dim = norm.centroids.shape[1]
    a = np.stack([vec.get(p.a, np.zeros(dim, np.float32)) for p in pairs])
    b = np.stack([vec.get(p.b, np.zeros(dim, np.float32)) for p in pairs])
    raw = (a * b).sum(axis=1).astype(np.float64)
    fair = norm.normalise(raw, a, b)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    out: dict[str, Any] = {"pairs": len(pairs), "scored": int(ok.sum())}
    for name, scores in (("raw", raw), ("fair", fair)):
        result = m.kfold_accuracy(scores, same, folds, ok)
        out[name] = {"accuracy": result.mean, "fold_std": float(np.std(result.accuracies))}
    return out


def vectors_from_files(files: list[Path], wanted: list[Path]) -> dict[Path, np.ndarray]:
    """Embeddings of detected faces from ``.npz`` files (``paths``, ``vectors``, ``detected``),
    as ``bench/arcface_variants.py`` writes them."""
    table: dict[Path, np.ndarray] = {}
    for file in files:
        with np.load(file, allow_pickle=False) as z:
            rows = zip(z["paths"].tolist(), z["vectors"], z["detected"], strict=True)
            table.update({Path(p): v for p, v, d in rows if d})
    return {p: table[p] for p in wanted if p in table}


def extract(
    args: argparse.Namespace,
    config: EngineConfig,
    pack_id: str,
    utk: list[Path],
    lfw: list[Path],
) -> dict[Path, np.ndarray]:
    """Embeddings of the detected faces (the face nearest the centre), through the cache."""
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    with EmbeddingCache(args.cache) as cache:
        extractor = Extractor(
            functools.partial(FaceEngine, config, ImageLimits(), home=args.home),
            pack_id=pack_id,
            variant=engine_variant(config),
            cache=cache,
            workers=args.workers,
        )
        utk_emb = embed_images(utk, extractor, "centre")
        lfw_emb = embed_images(lfw, extractor, "centre")
    return {p: v for p, v in {**utk_emb.detected, **lfw_emb.detected}.items() if v is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="dlib")
    ap.add_argument("--home", type=Path, default=None, help="data dir where the pack is installed")
    ap.add_argument("--lfw", type=Path, default=DATA / "lfw")
    ap.add_argument("--utkface", type=Path, default=DATA / "utkface")
    ap.add_argument("--folds", default="1-10", help="LFW view-2 folds, e.g. 1-2")
    ap.add_argument("--k", type=int, default=20, help="clusters")
    ap.add_argument("--fmr", type=float, default=1e-3)
    ap.add_argument("--fit-ages", default="20-59", help="ages of the UTKFace faces fitted on")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=REPO / "bench/.cache/fair_norm.sqlite")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--vectors",
        type=Path,
        action="append",
        help="embeddings from these files (bench/arcface_variants.py writes them) instead of "
        "the engine (HOG, --pack's alignment); give the UTKFace and the LFW file",
    )
    args = ap.parse_args()
    lo, _, hi = args.folds.partition("-")
    keep = set(range(int(lo) - 1, int(hi or lo)))
    config = EngineConfig(pack=args.pack)
    engine = FaceEngine(config, home=args.home)
    try:
        shipped: float | None = engine.calibration.operating_point(f"fmr={args.fmr:g}").threshold
    except ConfigError:
        shipped = None
    pairs = [p for p in read_lfw_pairs(args.lfw / "pairs.txt", args.lfw) if p.fold in keep]
    utk, _ = read_utkface(args.utkface)
    start, load0 = time.perf_counter(), os.getloadavg()
    lfw_paths = sorted({p for pair in pairs for p in (pair.a, pair.b)})
    if args.vectors is not None:
        vec = vectors_from_files(args.vectors, [f.path for f in utk] + lfw_paths)
    else:
        vec = extract(args, config, engine.pack_id, [f.path for f in utk], lfw_paths)
    first: dict[str, np.ndarray] = {}
    for path in lfw_paths:
        if path in vec:
            first.setdefault(path.parent.name, vec[path])
    lfw_fit = np.stack(list(first.values()))
    a_lo, _, a_hi = args.fit_ages.partition("-")
    ages = (int(a_lo), int(a_hi))
    utk_all = np.stack([vec[f.path] for f in utk if f.path in vec and adult(f, ages)])
    result = {
        "pack": engine.pack_id,
        "k": args.k,
        "fmr": args.fmr,
        "utkface_adults_20_59": utk_measure(utk, vec, lfw_fit, args.k, args.fmr, shipped, ages),
        "fit_ages": args.fit_ages,
        "lfw": lfw_measure(pairs, vec, fit_fair_normaliser(utk_all, args.k, args.fmr)),
        "lfw_folds": args.folds,
        "lfw_fit_people": len(lfw_fit),
        "seconds": round(time.perf_counter() - start, 1),
        "machine": {"cores": os.cpu_count(), "load_average": [load0, os.getloadavg()]},
        "embeddings": [str(v) for v in args.vectors] if args.vectors else "engine",
        "command": " ".join(["bench/fair_norm.py", *sys.argv[1:]]),
    }
    out = args.out or REPO / "bench" / "results" / f"fair_norm-{args.pack}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(result, indent=2, default=float))  # noqa: T201


if __name__ == "__main__":
    main()
