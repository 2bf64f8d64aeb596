"""Test-time flip, measured per pack: LFW view-2 accuracy and TAR with and without the mirror.

For the images of the chosen folds of ``pairs.txt``: one detection pass (HOG, upsample 1, the
face nearest the centre, 5- and 68-point landmarks) serves every pack; each pack's chip is cut
the way its manifest says (dlib-150 or ArcFace 112), and its embedder embeds the chip alone and
averaged with its mirror (:mod:`facegate.models.flip`). Detection and alignment are shared, so
the only difference is the flip. Pairs with a missed face count as wrong. Run:

    nice .venv/bin/python bench/flip.py --packs dlib,mobilefacenet --folds 1 --home DATA_DIR

Writes bench/results/flip.json.
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
from facegate.eval.metrics import kfold_accuracy, split_folds, tar_at_fmr
from facegate.models import factory
from facegate.models.flip import flip_average
from facegate.pipeline.align import arcface_chip, arcface_points_from_68, face_chip
from facegate.pipeline.engine import FaceEngine
from facegate.types import Face

REPO = Path(__file__).resolve().parents[1]


def folds_of(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first) - 1, int(last or first)))


def centre_face(engine: FaceEngine, path: Path) -> tuple[np.ndarray, Face] | None:
    pixels = engine.decode(path)
    faces = [f for f in engine.detect(pixels).faces if f.landmarks is not None]
    faces = [f for f in faces if f.landmarks68 is not None]
    if not faces:
        return None
    h, w = pixels.shape[:2]
    face = min(faces, key=lambda f: (f.box.center[0] - w / 2) ** 2 + (f.box.center[1] - h / 2) ** 2)
    return pixels, face


def chip_for(alignment: str, pixels: np.ndarray, face: Face) -> np.ndarray:
    if alignment == "arcface-112":
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


def pack_result(
    pack: str, home: Path, found: dict[Path, tuple[np.ndarray, Face]], pairs: list[Any]
) -> dict[str, Any]:
    engine = FaceEngine(EngineConfig(pack=pack), ImageLimits(), home=home)
    embedder = factory.build_embedder(engine.pack, engine.registry, factory.BackendOptions())
    paths = list(found)
    stack = np.stack([chip_for(engine.alignment, *found[p]) for p in paths])
    plain = dict(zip(paths, embedder.embed(stack), strict=True))
    flipped = dict(zip(paths, flip_average(embedder, stack), strict=True))
    ok = np.array([p.a in plain and p.b in plain for p in pairs])
    same = np.array([p.same for p in pairs])
    fold = np.array([p.fold for p in pairs])
    if len(set(fold.tolist())) < 2:  # one view-2 fold: ten folds dealt round-robin within it
        fold = split_folds(len(pairs))
    result: dict[str, Any] = {"pack_id": engine.pack_id}
    for name, table in (("no_flip", plain), ("flip", flipped)):
        scores = np.array(
            [float(table[p.a] @ table[p.b]) if ok[i] else -1.0 for i, p in enumerate(pairs)]
        )
        result[name] = measure(scores, same, fold, ok)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", default="dlib,mobilefacenet")
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument(
        "--home", type=Path, default=Path(os.environ.get("FACEGATE_HOME", "facegate-data"))
    )
    ap.add_argument("--folds", default="1", help="1-based fold range of view 2, e.g. 1-2")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "flip.json")
    args = ap.parse_args()
    wanted = folds_of(args.folds)
    pairs = [p for p in read_lfw_pairs(args.lfw / "pairs.txt", args.lfw) if p.fold in wanted]
    images = sorted({path for p in pairs for path in (p.a, p.b)})
    config = EngineConfig(detector="hog", upsample=1, landmarks68=True)
    detector = FaceEngine(config, ImageLimits(), home=args.home)
    start = time.perf_counter()
    found = {p: hit for p in images if (hit := centre_face(detector, p)) is not None}
    result: dict[str, Any] = {"folds": args.folds, "pairs": len(pairs), "images": len(images)}
    result["images_without_face"] = len(images) - len(found)
    result["packs"] = {
        name: pack_result(name, args.home, found, pairs) for name in args.packs.split(",")
    }
    result.update(
        seconds=round(time.perf_counter() - start, 1),
        load_average=os.getloadavg(),
        nproc=os.cpu_count(),
        command=" ".join(["bench/flip.py", *sys.argv[1:]]),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
