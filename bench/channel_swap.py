"""libfacedetection on the Hamilton frames with the RGB->BGR swap by numpy and by OpenCV.

The 640x360 frames of ../shared/data/video/short_hamilton_clip.mp4 (every ``--stride``-th),
libfacedetection on one thread; the two swaps take turns, ``--rounds`` passes each, so both
see the same load; the best pass's wall and process CPU time per frame is kept. The swap alone
is timed too (process CPU time, 300 swaps of one frame and of a 250x250 crop, best of 3).

    nice -n 10 .venv/bin/python bench/channel_swap.py [--stride 10] [--rounds 4]

Writes bench/results/channel_swap.json (with the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import facegate.models.libfacedetection as lfd  # noqa: E402
from facegate.imageio import swap_red_blue  # noqa: E402
from video_detect import frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def numpy_swap(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, :, ::-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/channel_swap.json")
    args = ap.parse_args()
    images = frames(args.stride)
    detector = lfd.LibfacedetectionDetector(0.5, threads=1)
    detector.load()
    detector.detect(images[0])
    swaps = {"numpy": numpy_swap, "opencv": swap_red_blue}
    best = {name: [float("inf"), float("inf")] for name in swaps}
    out: dict[str, object] = {"frames": len(images), "load_before": os.getloadavg()}
    for _ in range(args.rounds):
        for name, swap in swaps.items():
            lfd.swap_red_blue = swap  # type: ignore[assignment]
            t0, c0 = time.perf_counter(), time.process_time()
            for image in images:
                detector.detect(image)
            best[name][0] = min(best[name][0], 1000 * (time.perf_counter() - t0) / len(images))
            best[name][1] = min(best[name][1], 1000 * (time.process_time() - c0) / len(images))
    for name, swap in swaps.items():
        for label, image in (("frame", images[0]), ("250x250", images[0][:250, :250])):
            alone = float("inf")
            for _ in range(3):
                c0 = time.process_time()
                for _ in range(300):
                    swap(image)
                alone = min(alone, (time.process_time() - c0) / 300 * 1000)
            out[f"{name}_swap_alone_cpu_ms_{label}"] = alone
            print(f"{name} swap alone, {label}: {alone:.3f} ms CPU")
    for name, (wall, cpu) in best.items():
        out[name] = {"wall_ms_per_frame": wall, "cpu_ms_per_frame": cpu, "fps": 1000 / wall}
        print(f"{name}: {wall:.1f} ms wall ({1000 / wall:.1f} frames/s), {cpu:.1f} ms CPU")
    out["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
