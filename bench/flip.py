"""Test-time flip, measured per pack: LFW view-2 accuracy and TAR with and without the mirror.

For the images of the chosen folds of ``pairs.txt``: the pack's engine detects faces (HOG,
upsample 1, the face nearest the centre), the chip is cut the way the pack's manifest says
(dlib-150 or ArcFace 112), and the pack's embedder embeds it alone and averaged with its
mirror (:mod:`facegate.models.flip`). Detection and alignment are shared by both, so the only
difference is the flip. Pairs with a missed face count as wrong in both. Run:

    nice .venv/bin/python bench/flip.py --pack mobilefacenet --folds 1-2 --home DATA_DIR

Writes bench/results/flip_<pack>.json.
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

from facegate.config import EngineConfig, ImageLimits
from facegate.eval.datasets import read_lfw_pairs
from facegate.eval.metrics import kfold_accuracy, tar_at_fmr
from facegate.models import factory
from facegate.models.flip import flip_average
from facegate.pipeline.align import arcface_chip, arcface_points_from_68, face_chip
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]


def folds_of(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first) - 1, int(last or first)))


def centre_chip(engine: FaceEngine, path: Path, arcface: bool) -> np.ndarray | None:
    pixels = engine.decode(path)
    faces = [f for f in engine.detect(pixels).faces if f.landmarks is not None]
    if arcface:
        faces = [f for f in faces if f.landmarks68 is not None]
    if not faces:
        return None
    h, w = pixels.shape[:2]
    face = min(faces, key=lambda f: (f.box.center[0] - w / 2) ** 2 + (f.box.center[1] - h / 2) ** 2)
    if arcface:
        return arcface_chip(pixels, arcface_points_from_68(face.landmarks68))  # type: ignore[arg-type]
    return face_chip(pixels, face.landmarks)  # type: ignore[arg-type]


def measure(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray, ok: np.ndarray
) -> dict[str, Any]:
    k = kfold_accuracy(scores, same, folds, ok)
    gen, imp = scores[same & ok], scores[~same & ok]
    return {
        "accuracy": float(k.accuracies.mean()),
        "accuracy_std": float(k.accuracies.std()),
        "tar_at_fmr_1e-2": tar_at_fmr(gen, imp, 1e-2)[0],
        "tar_at_fmr_1e-3": tar_at_fmr(gen, imp, 1e-3)[0],
        "mean_genuine": float(gen.mean()),
        "mean_impostor": float(imp.mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="dlib")
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument(
        "--home", type=Path, default=Path(os.environ.get("FACEGATE_HOME", "facegate-data"))
    )
    ap.add_argument("--folds", default="1-2", help="1-based fold range of view 2, e.g. 1-2")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    wanted = folds_of(args.folds)
    pairs = [p for p in read_lfw_pairs(args.lfw / "pairs.txt", args.lfw) if p.fold in wanted]
    images = sorted({path for p in pairs for path in (p.a, p.b)})
    engine = FaceEngine(
        EngineConfig(pack=args.pack, landmarks68=True), ImageLimits(), home=args.home
    )
    arcface = engine.alignment == "arcface-112"
    embedder = factory.build_embedder(engine.pack, engine.registry, factory.BackendOptions())
    start = time.perf_counter()
    chips = {path: centre_chip(engine, path, arcface) for path in images}
    found = [p for p, c in chips.items() if c is not None]
    stack = np.stack([chips[p] for p in found])
    plain = dict(zip(found, embedder.embed(stack), strict=True))
    flipped = dict(zip(found, flip_average(embedder, stack), strict=True))
    ok = np.array([p.a in plain and p.b in plain for p in pairs])
    same = np.array([p.same for p in pairs])
    fold = np.array([p.fold for p in pairs])
    result: dict[str, Any] = {"pack": engine.pack_id, "folds": args.folds, "pairs": len(pairs)}
    for name, table in (("no_flip", plain), ("flip", flipped)):
        scores = np.array(
            [float(table[p.a] @ table[p.b]) if ok[i] else -1.0 for i, p in enumerate(pairs)]
        )
        result[name] = measure(scores, same, fold, ok)
    result.update(
        images=len(images),
        images_without_face=len(images) - len(found),
        pairs_with_a_miss=int((~ok).sum()),
        seconds=round(time.perf_counter() - start, 1),
        load_average=os.getloadavg(),
        nproc=os.cpu_count(),
        command=" ".join(["bench/flip.py", *sys.argv[1:]]),
    )
    out = args.out or REPO / "bench" / "results" / f"flip_{args.pack}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
