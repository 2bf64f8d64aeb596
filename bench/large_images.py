"""Large-image benchmark: peak RSS and time of one ``FaceEngine.analyze`` per image size.

For each size (1, 12, 24 and 36 megapixels by default) a fresh process loads the engine, warms
it on the small photo, records its RSS (the baseline), resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``), then analyses a PNG of that size (``obama.jpg`` scaled to its
height on a grey canvas, so the face is large, as in a photo from a camera) and reports: wall
time, peak RSS (VmHWM) and the peak over the baseline, the RSS after the request and its
distance from the baseline, and the faces found. ``--max-side`` sets ``detect_max_side``;
``--max-side 20000`` disables the scaled copy (what facegate did before it had one). Writes
JSON to ``--out``. Run:

    nice -n 10 .venv/bin/python bench/large_images.py
    nice -n 10 .venv/bin/python bench/large_images.py --max-side 20000 \
        --out bench/results/large_images_unscaled.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "data" / "face_recognition" / "examples" / "obama.jpg"
SIZES = {1: (1224, 816), 12: (4243, 2828), 24: (6000, 4000), 36: (6000, 6000)}


def status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(megapixels: int, max_side: int, home: Path, pack: str = "dlib") -> dict[str, Any]:
    import cv2
    import numpy as np

    from facegate.config import EngineConfig, ImageLimits
    from facegate.pipeline.engine import FaceEngine

    width, height = SIZES[megapixels]
    photo = cv2.imread(str(PHOTO))
    scale = min(width / photo.shape[1], height / photo.shape[0])
    fitted = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    canvas = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    ok, png = cv2.imencode(".png", canvas)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    data = bytes(png)
    del photo, fitted, canvas, png
    config = EngineConfig(detect_max_side=max_side, pack=pack)
    engine = FaceEngine(config, ImageLimits(max_pixels=40_000_000), home=home).load()
    engine.analyze(PHOTO)  # warm up: every model loaded and run once
    gc.collect()
    baseline = status_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    started = time.perf_counter()
    faces = len(engine.analyze(data).faces)
    seconds = time.perf_counter() - started
    peak = status_mib("VmHWM")
    gc.collect()
    after = status_mib("VmRSS")
    return {
        "megapixels": megapixels,
        "size": [width, height],
        "png_bytes": len(data),
        "faces": faces,
        "seconds": round(seconds, 2),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_over_baseline_mib": round(peak - baseline, 1),
        "rss_after_mib": round(after, 1),
        "after_over_baseline_mib": round(after - baseline, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,12,24,36", help="Megapixels, comma-separated.")
    parser.add_argument("--max-side", type=int, default=1600, help="detect_max_side.")
    parser.add_argument("--home", type=Path, default=REPO / "facegate-data")
    parser.add_argument("--pack", default="dlib", help="model pack (installed under --home)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "large_images.json"
    )
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.max_side, args.home, args.pack)))
        return
    if not PHOTO.exists():
        sys.exit(f"photo not found: {PHOTO}")
    rows = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    for mp in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(mp), "--max-side", str(args.max_side)]
        out = subprocess.run(
            [*cmd, "--home", str(args.home), "--pack", args.pack],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{mp:>2} MP: {row['seconds']:6.2f} s, peak {row['peak_rss_mib']:7.1f} MiB "
            f"(+{row['peak_over_baseline_mib']:.1f} over baseline), after "
            f"{row['after_over_baseline_mib']:+.1f} MiB, {row['faces']} face(s)",
            flush=True,
        )
        rows.append(row)
    result = {
        "command": "python bench/large_images.py " + " ".join(sys.argv[1:]),
        "machine": {"cores": os.cpu_count(), "load_average": [load_before, os.getloadavg()]},
        "pack": args.pack,
        "detect_max_side": args.max_side,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
