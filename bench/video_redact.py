"""Redaction of the Hamilton clip on tracks, checked by the CNN detector at upsample 1.

    nice -n 10 .venv/bin/python bench/video_redact.py [--detector cnn] [--upsample 1]

Redacts ``../shared/data/video/short_hamilton_clip.mp4`` with ``facegate.video.redact`` (the
given detector, tracks, interpolated boxes, audio kept), then runs dlib's CNN detector at
upsample 1 over every frame of the output and counts the frames in which it still finds a face
(the target is none), and whether the output has an audio stream. Writes
``bench/results/video_redact.json``; the redacted file goes to ``bench/results/`` only with
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from facegate.config import EngineConfig
from facegate.models.detectors import DETECTORS
from facegate.pipeline.engine import FaceEngine
from facegate.video.redact import has_audio, redact_tracked
from facegate.video.sources import FileSource

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
OUT = Path(__file__).resolve().parent / "results" / "video_redact.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detector", default="cnn", choices=list(DETECTORS))
    parser.add_argument("--home", type=Path, default=None, help="data dir with the detector")
    parser.add_argument("--upsample", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--pack", default="dlib", help="model pack")
    args = parser.parse_args()
    config = EngineConfig(pack=args.pack, detector=args.detector, upsample=args.upsample)
    engine = FaceEngine(config, home=args.home)
    checker = FaceEngine(EngineConfig(pack=args.pack, detector="cnn", upsample=1), home=args.home)
    folder = Path(tempfile.mkdtemp())
    target = folder / "hamilton_redacted.mp4"
    started = time.perf_counter()
    stats = redact_tracked(CLIP, target, lambda px: engine.detect(px).faces)
    redact_s = time.perf_counter() - started
    leaks = []
    for frame in FileSource(target).frames():
        found = checker.detect(frame.pixels).faces
        if found:
            leaks.append({"frame": frame.index, "boxes": [f.box.as_list() for f in found]})
    report = {
        "pack": engine.pack_id,
        "clip": CLIP.name,
        "redaction_detector": f"{args.detector} upsample {args.upsample}",
        "check_detector": "cnn upsample 1",
        **stats.to_dict(),
        "source_has_audio": has_audio(CLIP),
        "output_has_audio": has_audio(target),
        "frames_where_check_finds_a_face": len(leaks),
        "leaks": leaks,
        "redact_seconds": round(redact_s, 1),
        "load_average": os.getloadavg()[0],
    }
    if args.keep:
        target.replace(OUT.parent / target.name)
    out = (
        OUT
        if args.detector in ("hog", "cnn")
        else OUT.with_name(f"video_redact_{args.detector}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "leaks"}, indent=2))


if __name__ == "__main__":
    main()
