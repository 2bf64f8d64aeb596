"""LFW view-2 10-fold verification accuracy of a pack, written to bench/results/lfw_accuracy.json.

The protocol: the 6,000 pairs of ``pairs.txt`` in 10 folds; for each fold the threshold with the
best accuracy on the other 9 is applied to it; mean and standard deviation over folds. Each image
gives the detected face nearest the centre (HOG, upsample 1 by default); images where nothing is
detected are reported two ways: counted as wrong, and embedded at a fixed box (the median box
the detector found on LFW) with the 5-point landmarker (the headline). Run:

    .venv/bin/python bench/lfw_accuracy.py --lfw ../shared/data/lfw --runs 2

``--runs 2`` starts from an empty cache (``--cache``, deleted first unless ``--keep-cache``) and
runs again with the warm cache, recording both wall times.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from facegate.cli.common import DetectorName
from facegate.config import EngineConfig, ImageLimits
from facegate.errors import ConfigError
from facegate.eval.cache import EmbeddingCache
from facegate.eval.datasets import read_lfw_pairs
from facegate.eval.extract import Extractor, engine_variant
from facegate.eval.report import jsonable
from facegate.eval.verify import score_pairs, verification_report
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def _progress(label: str, done: int, total: int) -> None:
    """A line on stderr every 100 images (long runs are watched from a log file)."""
    if done == total or done % 100 == 0:
        print(f"{label}: {done}/{total} {time.strftime('%H:%M:%S')}", file=sys.stderr, flush=True)


def run_once(args: argparse.Namespace, cache_path: Path) -> tuple[dict[str, Any], float, Extractor]:
    config = EngineConfig(
        pack=args.pack,
        detector=args.detector,
        upsample=args.upsample,
        runtime=args.runtime,
        detect_min_face=getattr(args, "min_face", None),
    )
    engine = FaceEngine(config, home=args.home)
    factory = functools.partial(FaceEngine, config, ImageLimits(), home=args.home)
    pairs = read_lfw_pairs(args.lfw / "pairs.txt", args.lfw)
    if args.folds is not None:  # a subset of the folds, each tested with the others' threshold
        first, _, last = args.folds.partition("-")
        wanted = range(int(first) - 1, int(last or first))
        pairs = [p for p in pairs if p.fold in wanted]
    start = time.perf_counter()
    with EmbeddingCache(cache_path) as cache:
        extractor = Extractor(
            factory,
            pack_id=engine.pack_id,
            variant=engine_variant(config),
            cache=cache,
            workers=args.workers,
            progress=_progress,
        )
        scores = score_pairs(pairs, extractor, "centre")
    try:
        calibration = engine.calibration
    except ConfigError:  # a pack not calibrated yet: accuracy needs no calibration
        calibration = None
    report = verification_report(scores, calibration, "LFW view 2 (deep-funneled)")
    seconds = time.perf_counter() - start
    if args.report is not None:
        report.write(args.report)
    result = dict(report.summary)
    result["folds"] = report.details["folds"]
    result["folds_miss_as_error"] = report.details["folds_miss_as_error"]
    result["accuracy_standard_error"] = report.details["accuracy_standard_error"]
    result["misses"] = report.details["misses"]
    return result, seconds, extractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    parser.add_argument("--pack", default="dlib", help="model pack (installed under --home)")
    parser.add_argument("--home", type=Path, default=None, help="data dir of installed packs")
    parser.add_argument(
        "--folds", default=None, help="only these view-2 folds, e.g. 1-5 (default: all 10)"
    )
    parser.add_argument("--detector", choices=[d.value for d in DetectorName], default="hog")
    parser.add_argument("--upsample", type=int, default=1)
    parser.add_argument("--runtime", choices=["dlib", "onnx"], default="dlib")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2, help="1: one run; 2: cold then warm")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / ".cache" / "lfw.sqlite")
    parser.add_argument("--keep-cache", action="store_true", help="do not empty the cache first")
    parser.add_argument("--report", type=Path, default=None, help="also write the HTML report")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "lfw_accuracy.json"
    )
    args = parser.parse_args()

    if not args.keep_cache:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.cache}{suffix}").unlink(missing_ok=True)
    timings = []
    result: dict[str, Any] = {}
    for run in range(args.runs):
        result, seconds, extractor = run_once(args, args.cache)
        timings.append(
            {
                "run": run + 1,
                "seconds": round(seconds, 2),
                "images_computed": extractor.stats.computed,
                "images_from_cache": extractor.stats.cached,
            }
        )
        print(f"run {run + 1}: {seconds:.1f} s, accuracy {result['accuracy']:.4f}", flush=True)
    out = {
        "benchmark": "LFW view-2 10-fold verification accuracy",
        "dataset": str(args.lfw),
        "folds": args.folds or "1-10",
        "command": ".venv/bin/python " + " ".join(sys.argv),
        "engine": {
            "pack": args.pack,
            "detector": args.detector,
            "upsample": args.upsample,
            "runtime": args.runtime,
            "face": "nearest the image centre",
        },
        "machine": machine(),
        "workers": args.workers,
        "timings": timings,
        "result": result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(jsonable(out), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
