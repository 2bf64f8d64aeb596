"""End to end, one photo at a time: face_recognition vs facegate with each detector, one run.

"End to end" is: find every face and embed it (128-d dlib ResNet for both). face_recognition:
``face_encodings(img, face_locations(img, 1, "hog"))``; facegate: ``FaceEngine.analyze(img)``
with the ONNX runtime and the detector named, on the same decoded photos, same process.
Needs face_recognition (``make bench-env``):

    .venv-bench/bin/python bench/e2e_detectors.py --home DATA_DIR [--images 40]

DATA_DIR must have the detectors installed. Writes bench/results/e2e_detectors.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def best_of(fn: Callable[[], Any], repeat: int = 2) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    import face_recognition as fr

    from facegate.config import EngineConfig
    from facegate.imageio import decode
    from facegate.models.detectors import installed_detectors
    from facegate.pipeline.engine import FaceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--images", type=int, default=40)
    args = ap.parse_args()
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    photos = [decode(p) for p in lfw]
    out: dict[str, Any] = {"images": len(photos), "load_before": os.getloadavg()}

    def fr_run() -> None:
        for img in photos:
            fr.face_encodings(img, fr.face_locations(img, 1, "hog"))

    t_fr = best_of(fr_run)
    out["face_recognition_images_per_s"] = len(photos) / t_fr
    print("face_recognition", out["face_recognition_images_per_s"], flush=True)
    for name in ["hog", *[d for d in installed_detectors(args.home) if d not in ("hog", "cnn")]]:
        engine = FaceEngine(EngineConfig(detector=name), home=args.home).load()
        faces = [0]

        def fg_run(engine: FaceEngine = engine, faces: list[int] = faces) -> None:
            faces[0] = sum(len(engine.analyze(img).faces) for img in photos)

        t = best_of(fg_run)
        out[name] = {
            "images_per_s": len(photos) / t,
            "ratio_vs_face_recognition": t_fr / t,
            "faces": faces[0],
        }
        print(name, out[name], flush=True)
    out["load_after"] = os.getloadavg()
    (REPO / "bench" / "results" / "e2e_detectors.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
