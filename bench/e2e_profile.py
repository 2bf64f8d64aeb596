"""Where ``FaceEngine.analyze`` spends its time, one photo at a time (cProfile).

The photos are those of ``bench/e2e_detectors.py`` (every 97th ``*_0001.jpg`` of LFW). Each
detector named gets a warm-up pass, then ``--rounds`` profiled passes; the functions with the
most own time and the main pipeline steps' cumulative time are written per detector, in ms per
photo.

    nice -n 10 .venv/bin/python bench/e2e_profile.py --home DATA_DIR [--detectors hog] [--images 20]
        [--upsample 0] [--min-face 40] [--chip fast]

Writes bench/results/e2e_profile.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
STEPS = (
    "analyze",
    "_detect",
    "_faces",
    "_face_at",
    "landmarks",
    "embed_faces",
    "_chip",
    "embed",
    "face_quality",
    "decode",
)


def main() -> None:
    from facegate.config import EngineConfig
    from facegate.imageio import decode
    from facegate.pipeline.engine import FaceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--detectors", default="hog")
    ap.add_argument("--upsample", type=int, default=None)
    ap.add_argument("--min-face", type=int, default=None, help="detect_min_face (pixels)")
    ap.add_argument("--chip", choices=["exact", "fast"], default=None)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "e2e_profile.json")
    args = ap.parse_args()
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    photos = [decode(p) for p in lfw]
    out: dict[str, Any] = {"images": len(photos), "load_before": os.getloadavg()}
    for name in args.detectors.split(","):
        extra: dict[str, Any] = {} if args.upsample is None else {"upsample": args.upsample}
        if args.min_face is not None:
            extra["detect_min_face"] = args.min_face
        if args.chip is not None:
            extra["chip"] = args.chip
        engine = FaceEngine(EngineConfig(detector=name, **extra), home=args.home).load()  # type: ignore[arg-type]
        for img in photos:
            engine.analyze(img)
        prof = cProfile.Profile()
        t0, c0 = time.perf_counter(), time.process_time()
        prof.enable()
        for _ in range(args.rounds):
            for img in photos:
                engine.analyze(img)
        prof.disable()
        n = args.rounds * len(photos)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stats = pstats.Stats(prof)
        table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        rows = [
            (f"{Path(f).name}:{line}:{fn}", tt * 1000 / n, ct * 1000 / n)
            for (f, line, fn), (_, _, tt, ct, _) in table.items()
        ]
        steps = {}
        for step in STEPS:
            hits = [r for r in rows if r[0].endswith(":" + step)]
            if hits:
                steps[step] = round(max(h[2] for h in hits), 2)
        top = sorted(rows, key=lambda r: -r[1])[:15]
        out[name] = {
            "wall_ms_per_photo_profiled": 1000 * wall / n,
            "cpu_ms_per_photo_profiled": 1000 * cpu / n,
            "cumulative_ms_per_photo": steps,
            "top_own_time_ms_per_photo": [[r[0], round(r[1], 2)] for r in top],
        }
        print(name, json.dumps(out[name], indent=1), flush=True)
    out["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
