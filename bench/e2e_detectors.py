"""End to end, one photo at a time: face_recognition vs facegate with each detector, one run.

"End to end" is: find every face and embed it (128-d dlib ResNet for both). face_recognition:
``face_encodings(img, face_locations(img, 1, "hog"))``; facegate: ``FaceEngine.analyze(img)``
with the ONNX runtime and the detector named, on the same decoded photos, same process.
Needs face_recognition (``make bench-env``):

    .venv-bench/bin/python bench/e2e_detectors.py --home DATA_DIR [--images 40] [--detectors a,b]

A detector may be named with an upsampling, ``libfacedetection:0`` (default: the engine's, 1),
and a smallest face that matters, ``libfacedetection:0:40`` (``detect_min_face``: faces from
40 px, detected on a smaller copy where the detector needs less). ``--chip`` sets the engine's
dlib chip (``exact`` or ``fast``; default: the engine's).

Per detector, face_recognition is timed again right before it, so each ratio compares two runs
under the same load; both wall time and process CPU time (all threads) are reported, since the
machine may be shared.

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


def best_of(fn: Callable[[], Any], repeat: int = 2) -> tuple[float, float]:
    """Best wall time and best process CPU time (user + system, all threads) of ``repeat``
    timed passes after one warm-up pass."""
    fn()
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    import face_recognition as fr

    from facegate.config import EngineConfig
    from facegate.imageio import decode
    from facegate.models.detectors import installed_detectors
    from facegate.pipeline.engine import FaceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--detectors", default="", help="comma-separated (default: every installed)")
    ap.add_argument("--chip", choices=["exact", "fast"], default=None)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "e2e_detectors.json")
    args = ap.parse_args()
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    photos = [decode(p) for p in lfw]
    out: dict[str, Any] = {"images": len(photos), "load_before": os.getloadavg()}

    def fr_run() -> None:
        for img in photos:
            fr.face_encodings(img, fr.face_locations(img, 1, "hog"))

    names = args.detectors.split(",") if args.detectors else [
        "hog", *[d for d in installed_detectors(args.home) if d not in ("hog", "cnn")]
    ]  # fmt: skip
    for name in names:
        detector, _, rest = name.partition(":")  # "libfacedetection:0": upsample 0
        upsample, _, min_face = rest.partition(":")  # "libfacedetection:0:40": faces >= 40 px
        extra: dict[str, Any] = {"upsample": int(upsample)} if upsample else {}
        if min_face:
            extra["detect_min_face"] = int(min_face)
        if args.chip:
            extra["chip"] = args.chip
        config = EngineConfig(detector=detector, **extra)
        engine = FaceEngine(config, home=args.home).load()
        faces = [0]

        def fg_run(engine: FaceEngine = engine, faces: list[int] = faces) -> None:
            faces[0] = sum(len(engine.analyze(img).faces) for img in photos)

        # face_recognition again beside each detector, so both see the same load
        fr_wall, fr_cpu = best_of(fr_run)
        wall, cpu = best_of(fg_run)
        out[name] = {
            "images_per_s": len(photos) / wall,
            "face_recognition_images_per_s": len(photos) / fr_wall,
            "ratio_vs_face_recognition": fr_wall / wall,
            "cpu_ms_per_image": 1000 * cpu / len(photos),
            "face_recognition_cpu_ms_per_image": 1000 * fr_cpu / len(photos),
            "cpu_ratio_vs_face_recognition": fr_cpu / cpu,
            "faces": faces[0],
            "load_average": os.getloadavg()[0],
            "chip": config.chip,
        }
        print(name, out[name], flush=True)
    out["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
