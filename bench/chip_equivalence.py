"""Is the OpenCV dlib chip (``EngineConfig.chip = "fast"``) as good as the exact one?

One detection pass (the engine's defaults: HOG at upsample 1, dlib's 5 landmarks) over the
images of LFW view-2 folds 1-2 and one photo each of ``--people`` LFW people (the random pick of
``bench/calibrate.py``, the pairs the shipped calibration saw); the face nearest the centre of
each is cut both ways and embedded, so the two chips differ in nothing else. Reported:

- the cosine between the two embeddings of each face (min, 0.1st percentile, median), and the
  largest pixel difference between the chips;
- LFW folds 1-2 verification accuracy per chip, each fold tested at the best threshold of the
  other (pairs where a photo has no face are counted wrong);
- the false-match rate at each shipped threshold over every pair of the ``--people`` photos,
  and the false non-match rate over the 300 same-person pairs of fold 1, per chip.

    nice -n 10 .venv/bin/python bench/chip_equivalence.py --home DATA_DIR [--people 600]

Embeddings are cached in bench/.cache/chip_equivalence.npz; writes
bench/results/chip_equivalence.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import first_images  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw"
CACHE = REPO / "bench" / ".cache" / "chip_equivalence.npz"
POINTS = ("fmr=1e-2", "fmr=1e-3", "fmr=1e-4")


def view2_pairs(folds: range) -> list[tuple[int, Path, Path, bool]]:
    """(fold, a, b, same person) for the pairs of LFW view 2's ``folds`` (0-based)."""
    lines = (LFW / "pairs.txt").read_text().splitlines()[1:]
    out = []
    for i, line in enumerate(lines):
        fold = i // 600
        if fold not in folds:
            continue
        f = line.split("\t")
        if len(f) == 3:
            a, b = (
                LFW / f[0] / f"{f[0]}_{int(f[1]):04d}.jpg",
                LFW / f[0] / f"{f[0]}_{int(f[2]):04d}.jpg",
            )
        else:
            a, b = (
                LFW / f[0] / f"{f[0]}_{int(f[1]):04d}.jpg",
                LFW / f[2] / f"{f[2]}_{int(f[3]):04d}.jpg",
            )
        out.append((fold, a, b, len(f) == 3))
    return out


def embed_both(home: Path, paths: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exact, fast) embeddings of each photo's centre face (NaN rows: no face) and the
    largest pixel difference between its two chips."""
    from facegate.config import EngineConfig
    from facegate.imageio import decode
    from facegate.pipeline.align import face_chip
    from facegate.pipeline.engine import FaceEngine

    names = [str(p) for p in paths]
    if CACHE.is_file():
        data = np.load(CACHE)
        if list(data["paths"]) == names:
            return data["exact"], data["fast"], data["pixel_diff"]
    engine = FaceEngine(EngineConfig(), home=home).load()
    embedder = engine._backends()[2]
    exact = np.full((len(paths), 128), np.nan, np.float32)
    fast = exact.copy()
    diff = np.zeros(len(paths))
    t0 = time.time()
    for i, path in enumerate(paths):
        pixels = decode(path)
        faces = [f for f in engine.detect(pixels, quality=False).faces if f.landmarks is not None]
        if faces:
            cx, cy = pixels.shape[1] / 2, pixels.shape[0] / 2
            face = min(
                faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2
            )
            a = face_chip(pixels, face.landmarks, method="exact")  # type: ignore[arg-type]
            b = face_chip(pixels, face.landmarks, method="fast")  # type: ignore[arg-type]
            exact[i], fast[i] = embedder.embed(np.stack([a, b]))
            diff[i] = np.abs(a.astype(np.int16) - b.astype(np.int16)).max()
        if i % 200 == 0:
            print(f"{i}/{len(paths)} {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, paths=np.array(names), exact=exact, fast=fast, pixel_diff=diff)
    return exact, fast, diff


def fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> list[float]:
    """Accuracy of each fold at the best threshold of the others (NaN score: counted wrong)."""
    out = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        candidates = np.unique(scores[train & ~np.isnan(scores)])
        acc = [np.mean((scores[train] >= t) == same[train]) for t in candidates]
        best = candidates[int(np.argmax(acc))]
        out.append(float(np.mean((scores[test] >= best) == same[test])))
    return out


def main() -> None:
    from facegate.config import EngineConfig
    from facegate.pipeline.engine import FaceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--people", type=int, default=600)
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/chip_equivalence.json")
    args = ap.parse_args()
    load = os.getloadavg()
    pairs = view2_pairs(range(0, 2))
    singles = first_images(LFW, args.people)
    paths = sorted({*singles, *(p for _, a, b, _ in pairs for p in (a, b))})
    index = {p: i for i, p in enumerate(paths)}
    exact, fast, diff = embed_both(args.home, paths)
    vectors = {"exact": exact, "fast": fast}
    found = ~np.isnan(vectors["exact"][:, 0])
    cos = np.sum(vectors["exact"][found] * vectors["fast"][found], axis=1)
    report: dict[str, Any] = {
        "photos": len(paths),
        "photos_without_a_face": int((~found).sum()),
        "cosine_exact_vs_fast": {
            "min": float(cos.min()),
            "p0.1": float(np.percentile(cos, 0.1)),
            "median": float(np.median(cos)),
        },
        "largest_pixel_difference": int(diff.max()),
        "photos_with_any_pixel_difference": int((diff > 0).sum()),
    }
    calibration = FaceEngine(EngineConfig(), home=args.home).calibration
    folds = np.array([f for f, *_ in pairs])
    same = np.array([s for *_, s in pairs])
    sel = [index[p] for p in singles if found[index[p]]]
    for method, vec in vectors.items():
        scores = np.array([float(vec[index[a]] @ vec[index[b]]) for _, a, b, _ in pairs])
        accuracy = fold_accuracy(scores, same, folds)
        imp = vec[sel]
        sims = (imp @ imp.T)[np.triu_indices(len(imp), k=1)]
        genuine = scores[(folds == 0) & same]
        row: dict[str, Any] = {"lfw_folds_1_2_accuracy": accuracy, "mean": float(np.mean(accuracy))}
        row["impostor_pairs"] = int(len(sims))
        for name in POINTS:
            threshold = calibration.operating_point(name).threshold
            row[name] = {
                "threshold": round(threshold, 4),
                "fmr": float((sims >= threshold).mean()),
                "fnmr_fold1": float(np.mean(~(genuine >= threshold))),
            }
        report[method] = row
    report["load_average_start_end"] = [load, os.getloadavg()]
    print(json.dumps(report, indent=1))
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
