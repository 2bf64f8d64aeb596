"""Detection speed and recall on video frames: each detector against dlib's CNN (upsample 1).

On the 640x360 frames of ../shared/data/video/short_hamilton_clip.mp4 (every STRIDE-th frame):
the CNN at upsample 1 (ONNX Runtime) gives the reference faces; each detector's frames/s
(wall clock, one frame at a time, both cores for ONNX Runtime), faces per frame, and the
share of the CNN's faces it also finds (one-to-one pairs at IoU >= 0.3). ``libfacedetection-480``
is libfacedetection on the frame scaled to 480 px wide (boxes mapped back).

    .venv/bin/python bench/video_detect.py --home DATA_DIR [--stride 1]

Writes bench/results/video_detect.json (with the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.models.detectors import build_standalone_detector, installed_detectors
from facegate.models.dlib_runtime import DlibHogDetector
from facegate.models.libfacedetection import LibfacedetectionDetector
from facegate.models.onnx_runtime import OnnxMmodDetector
from facegate.pipeline.box_adapt import pair_boxes

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "data" / "video" / "short_hamilton_clip.mp4"


def frames(stride: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    out, i = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % stride == 0:
            out.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        i += 1
    cap.release()
    return out


CPU_MS: dict[int, float] = {}  # id(detector) -> process CPU ms per frame (all threads)


def run(detector: Any, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    detector.load()
    detector.detect(images[0])
    boxes = []
    t0, c0 = time.perf_counter(), time.process_time()
    for im in images:
        found = detector.detect(im)
        boxes.append(np.array([[b.x1, b.y1, b.x2, b.y2] for b, _ in found]).reshape(-1, 4))
    CPU_MS[id(detector)] = 1000 * (time.process_time() - c0) / len(images)
    return boxes, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated detector names (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "video_detect.json")
    args = ap.parse_args()
    images = frames(args.stride)
    out: dict[str, Any] = {"clip": CLIP.name, "frames": len(images), "stride": args.stride}
    out["load_before"] = os.getloadavg()
    ref, ref_s = run(OnnxMmodDetector(args.home, upsample=1), images)
    ref_faces = int(sum(len(b) for b in ref))
    out["cnn_up1"] = {"fps": len(images) / ref_s, "faces": ref_faces}
    detectors: dict[str, Any] = {"hog": DlibHogDetector(1), "hog-up0": DlibHogDetector(0)}
    for name in installed_detectors(args.home):
        if name not in ("hog", "cnn"):
            detectors[name] = build_standalone_detector(name, args.home)
    if "libfacedetection" in detectors:
        # the frame scaled to 480 px wide first (as `facegate video --detect-side 480` does)
        detectors["libfacedetection-480"] = LibfacedetectionDetector(0.5, max_side=480, threads=1)
    for name, det in detectors.items():
        if args.only and name not in args.only.split(","):
            continue
        boxes, seconds = run(det, images)
        matched = sum(len(pair_boxes(b, r, 0.3)) for b, r in zip(boxes, ref, strict=True))
        missed_frames = sum(
            len(pair_boxes(b, r, 0.3)) < len(r) for b, r in zip(boxes, ref, strict=True)
        )
        out[name] = {
            "fps": len(images) / seconds,
            "cpu_ms_per_frame": CPU_MS[id(det)],
            "load_average": os.getloadavg()[0],
            "faces": int(sum(len(b) for b in boxes)),
            "faces_per_frame": float(np.mean([len(b) for b in boxes])),
            "cnn_faces_found": matched / max(ref_faces, 1),
            "frames_missing_a_cnn_face": missed_frames,
        }
        print(name, out[name], flush=True)
    out["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
