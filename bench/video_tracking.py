"""Per-frame detection and tracking on the YouTube Faces clips: facegate's tracker vs libraries.

    nice -n 10 .venv/bin/python bench/video_tracking.py [--detector hog] [--upsample 1]

Detects faces in every frame of ``../shared/data/ytf_dev`` once (the engine's detector), then
runs each tracker over the same detections and scores, per clip (``facegate.eval.video``):
recall and false positives per frame of the detector alone and of the tracker's output (its
boxes, including predicted ones while a face is missed), ID switches and tracks per clip.
Trackers: facegate's ``IouTracker``; ``norfair`` and ByteTrack (PyPI ``trackers``) when installed
(benchmark environment only: ``pip install norfair supervision`` and
``pip install --no-deps trackers``, Roboflow's successor of supervision's ByteTrack). Writes
``bench/results/video_tracking.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from facegate.config import EngineConfig
from facegate.eval.video import AnnotatedFrame, ClipCounts, load_ytf, score_clip
from facegate.imageio import decode
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Face
from facegate.video.tracker import IouTracker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results" / "video_tracking.json"
Boxes = list[tuple[BBox, int | None]]
RunTracker = Callable[[Sequence[list[Face]], Sequence[float]], list[Boxes]]


def run_facegate(detections: Sequence[list[Face]], stamps: Sequence[float]) -> list[Boxes]:
    tracker = IouTracker()
    out: list[Boxes] = []
    for faces, stamp in zip(detections, stamps, strict=True):
        update = tracker.update(faces, stamp)
        out.append([(t.box, t.track_id if t.confirmed else None) for t in update.tracks])
    return out


def run_norfair(detections: Sequence[list[Face]], stamps: Sequence[float]) -> list[Boxes]:
    import norfair

    tracker = norfair.Tracker(
        distance_function="iou", distance_threshold=0.8, hit_counter_max=15, initialization_delay=1
    )
    out: list[Boxes] = []
    for faces in detections:
        dets = [
            norfair.Detection(np.array([[f.box.x1, f.box.y1], [f.box.x2, f.box.y2]])) for f in faces
        ]
        objects = tracker.update(dets)
        frame: Boxes = []
        for obj in objects:
            (x1, y1), (x2, y2) = obj.estimate
            frame.append((BBox(float(x1), float(y1), float(x2), float(y2)), int(obj.id)))
        out.append(frame)
    return out


def run_bytetrack(detections: Sequence[list[Face]], stamps: Sequence[float]) -> list[Boxes]:
    import supervision as sv
    import trackers as tr

    tracker = tr.ByteTrackTracker(lost_track_buffer=15, frame_rate=25.0)
    out: list[Boxes] = []
    for faces in detections:
        if faces:
            xyxy = np.array([[f.box.x1, f.box.y1, f.box.x2, f.box.y2] for f in faces], np.float32)
            conf = np.clip(np.array([f.score for f in faces], np.float32), 0.0, 1.0)
        else:
            xyxy, conf = np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        tracked = tracker.update(sv.Detections(xyxy=xyxy, confidence=conf))
        ids = tracked.tracker_id if tracked.tracker_id is not None else []
        out.append([(BBox(*map(float, b)), int(t)) for b, t in zip(tracked.xyxy, ids, strict=True)])
    return out


def trackers() -> dict[str, RunTracker]:
    found: dict[str, RunTracker] = {"facegate IouTracker": run_facegate}
    try:
        import norfair  # noqa: F401

        found["norfair (iou)"] = run_norfair
    except ImportError:
        pass
    try:
        import trackers as _  # noqa: F401

        found["trackers ByteTrack"] = run_bytetrack
    except ImportError:
        pass
    return found


def _detections(
    engine: FaceEngine, clips: dict[str, list[AnnotatedFrame]], cache: Path | None
) -> dict[str, list[list[Face]]]:
    if cache is not None and cache.is_file():
        raw = json.loads(cache.read_text())
        return {
            clip: [[Face(BBox(*box), score) for box, score in frame] for frame in frames]
            for clip, frames in raw.items()
        }
    found = {clip: [engine.detect(decode(f.path)).faces for f in fr] for clip, fr in clips.items()}
    if cache is not None:
        raw = {
            clip: [[(f.box.as_list(), f.score) for f in frame] for frame in frames]
            for clip, frames in found.items()
        }
        cache.write_text(json.dumps(raw))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detector", default="hog", choices=["hog", "cnn"])
    parser.add_argument("--upsample", type=int, default=1)
    parser.add_argument("--min-iou", type=float, default=0.3)
    parser.add_argument("--cache", type=Path, help="keep detections in this JSON file")
    args = parser.parse_args()
    engine = FaceEngine(EngineConfig(detector=args.detector, upsample=args.upsample))
    clips = load_ytf(DATA / "ytf_dev")
    started = time.perf_counter()
    detections = _detections(engine, clips, args.cache)
    detect_s = time.perf_counter() - started
    results: dict[str, dict[str, object]] = {}
    plain = ClipCounts()
    for clip, frames in clips.items():
        boxes = [[(f.box, None) for f in faces] for faces in detections[clip]]
        plain.add(score_clip(clip, [f.box for f in frames], boxes, args.min_iou))
    results["detector alone"] = plain.to_dict()
    for name, run in trackers().items():
        total = ClipCounts()
        per_clip = {}
        for clip, frames in clips.items():
            stamps = [f.number / 30.0 for f in frames]  # YTF clips are 30 fps; numbers may skip
            output = run(detections[clip], stamps)
            counts = score_clip(clip, [f.box for f in frames], output, args.min_iou)
            per_clip[clip] = counts.to_dict()
            total.add(counts)
        results[name] = {**total.to_dict(), "per_clip": per_clip}
    report = {
        "detector": f"{args.detector} upsample {args.upsample}",
        "min_iou": args.min_iou,
        "frames": sum(len(f) for f in clips.values()),
        "detect_seconds": round(detect_s, 1),
        "load_average": os.getloadavg()[0],
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
