"""Does the dlib pack's shipped calibration hold with another detector's boxes?

    nice -n 10 .venv/bin/python bench/detector_calibration.py [--people 600] [--detectors hog,...]

A detector may be named with the engine's smallest face that matters (``detect_min_face``):
``libfacedetection:40`` detects faces from 40 px, on a copy scaled down to suit.

The pack's thresholds were calibrated on impostor scores of faces found by HOG (upsample 1).
Another detector gives other boxes, so (through its box adapter) slightly other landmarks,
chips and embeddings. For each detector (engine defaults, upsample 1, the face nearest the image
centre), on the same photos: the false-match rate measured at each shipped threshold over every
pair of one photo each of ``--people`` LFW people (the same random pick as ``bench/calibrate.py``,
so these are pairs the calibration also saw), the false non-match rate over the 300 same-person
pairs of LFW view-2 fold 1, and the cosine between each photo's embedding with HOG's box and
with the detector's. Writes ``bench/results/detector_calibration.json``; embeddings are cached
under ``bench/.cache/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from facegate.config import EngineConfig
from facegate.pipeline.engine import FaceEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import embed_centre_face, first_images  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw"
CACHE = REPO / "bench" / ".cache"
OUT = REPO / "bench" / "results" / "detector_calibration.json"
POINTS = ("fmr=1e-2", "fmr=1e-3", "fmr=1e-4")


def genuine_pairs(fold: int = 1) -> list[tuple[Path, Path]]:
    lines = (LFW / "pairs.txt").read_text().splitlines()[1:]
    block = lines[(fold - 1) * 600 : (fold - 1) * 600 + 300]
    out = []
    for line in block:
        name, a, b = line.split("\t")
        out.append(
            (LFW / name / f"{name}_{int(a):04d}.jpg", LFW / name / f"{name}_{int(b):04d}.jpg")
        )
    return out


def embeddings(detector: str, paths: list[Path]) -> dict[str, np.ndarray | None]:
    """``detector`` may name a smallest face that matters: ``libfacedetection:40``."""
    name, _, min_face = detector.partition(":")
    cache = CACHE / f"detector_calibration_{detector.replace(':', '_mf')}.json"
    known: dict[str, list[float] | None] = {}
    if cache.is_file():
        known = json.loads(cache.read_text())
    extra = {"detect_min_face": int(min_face)} if min_face else {}
    engine = FaceEngine(EngineConfig(detector=name, upsample=1, **extra))  # type: ignore[arg-type]
    for path in paths:
        if str(path) not in known:
            vector = embed_centre_face(engine, path)
            known[str(path)] = None if vector is None else [float(x) for x in vector]
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(known))
    return {p: None if v is None else np.asarray(v, np.float32) for p, v in known.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--detectors", default="hog,libfacedetection")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    singles = first_images(LFW, args.people)
    pairs = genuine_pairs()
    paths = sorted({*singles, *(p for pair in pairs for p in pair)})
    reference = FaceEngine(EngineConfig(detector="hog")).calibration
    found = {d: embeddings(d, paths) for d in args.detectors.split(",")}
    report: dict[str, object] = {"people": len(singles), "genuine_pairs": len(pairs)}
    for detector, vectors in found.items():
        imp = np.stack([v for p in singles if (v := vectors[str(p)]) is not None])
        sims = (imp @ imp.T)[np.triu_indices(len(imp), k=1)]
        gen = [
            float(va @ vb)
            for a, b in pairs
            if (va := vectors[str(a)]) is not None and (vb := vectors[str(b)]) is not None
        ]
        row: dict[str, object] = {
            "photos_without_a_face": sum(v is None for v in vectors.values()),
            "impostor_pairs": int(len(sims)),
        }
        for name in POINTS:
            threshold = reference.operating_point(name).threshold
            row[name] = {
                "threshold": round(threshold, 4),
                "fmr_measured": float((sims >= threshold).mean()),
                "fnmr_fold1": round(float(np.mean(np.asarray(gen) < threshold)), 4),
            }
        if detector != "hog" and "hog" in found:
            cos = [
                float(v @ h)
                for p, v in vectors.items()
                if v is not None and (h := found["hog"][p]) is not None
            ]
            row["cosine_to_hog_embedding"] = {
                "median": round(float(np.median(cos)), 5),
                "p5": round(float(np.percentile(cos, 5)), 5),
                "min": round(float(min(cos)), 5),
            }
        report[detector] = row
        print(detector, json.dumps(row), flush=True)
    report["load_average_start_end"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
