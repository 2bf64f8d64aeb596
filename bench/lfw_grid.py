"""LFW view-2 accuracy for every (detector, embedder) pair, on a fixed subset of the folds.

Each pair runs the protocol of ``bench/lfw_accuracy.py`` (the face nearest the centre, misses
embedded at the median box, each fold tested at the best threshold of the other folds) through
one shared cache, so a pair measured before costs nothing and a stopped run resumes. The
detector's own upsampling is the one that suits LFW's 250x250 images (dlib's HOG and CNN at 1, as
facegate's headline LFW figure; the others at 0: LFW's faces are about 110 px wide). Results are
written after every pair to bench/results/lfw_grid.json. Run:

    nice -n 15 .venv/bin/python bench/lfw_grid.py --home DATA_DIR --folds 1-2 \\
        --detectors hog,mtcnn,libfacedetection,blazeface-back,blazeface-full \\
        --packs mobilefacenet,dlib
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from facegate.eval.report import jsonable  # noqa: E402
from lfw_accuracy import machine, run_once  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
UPSAMPLE = {"hog": 1, "cnn": 1}  # every other detector: 0 on LFW


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    parser.add_argument("--home", type=Path, required=True, help="data dir of installed packs")
    parser.add_argument("--folds", default="1-2", help="view-2 folds, e.g. 1-2")
    parser.add_argument("--detectors", default="hog,mtcnn,libfacedetection,blazeface-back")
    parser.add_argument("--packs", default="mobilefacenet,dlib")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--min-face", type=int, default=None, help="the engine's detect_min_face")
    parser.add_argument("--cache", type=Path, default=None, help="default: HOME/eval-cache.sqlite")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lfw_grid.json")
    args = parser.parse_args()

    cache = args.cache or args.home / "eval-cache.sqlite"
    rows: list[dict[str, Any]] = []
    for pack in args.packs.split(","):  # every detector with one embedder, then the next
        for detector in args.detectors.split(","):
            one = argparse.Namespace(
                pack=pack,
                detector=detector,
                upsample=UPSAMPLE.get(detector, 0),
                runtime="onnx",
                home=args.home,
                lfw=args.lfw,
                folds=args.folds,
                workers=args.workers,
                report=None,
                min_face=args.min_face,
            )
            before = load_average()
            result, seconds, extractor = run_once(one, cache)
            rows.append(
                {
                    "detector": detector,
                    "upsample": one.upsample,
                    "detect_min_face": args.min_face,
                    "pack": pack,
                    "accuracy": result["accuracy"],
                    "accuracy_std": result.get("accuracy_std"),
                    "accuracy_miss_as_error": result.get("accuracy_miss_as_error"),
                    "tar_at_fmr": result.get("tar_at_fmr"),
                    "misses": result["detector_misses"],
                    "auc": result["auc"],
                    "seconds": round(seconds, 1),
                    "images_computed": extractor.stats.computed,
                    "images_from_cache": extractor.stats.cached,
                    "uptime_before": before,
                    "uptime_after": load_average(),
                }
            )
            print(f"{detector} x {pack}: {result['accuracy']:.4f} ({seconds:.0f} s)", flush=True)
            out = {
                "benchmark": "LFW view-2 accuracy per (detector, embedder) pair",
                "folds": args.folds,
                "command": ".venv/bin/python " + " ".join(sys.argv),
                "face": "nearest the image centre; misses embedded at the median box",
                "machine": machine(),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "pairs": rows,
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(jsonable(out), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
