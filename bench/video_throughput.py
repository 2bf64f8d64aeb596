"""End-to-end video throughput: decode, detect, track, identify new tracks.

    nice -n 10 .venv/bin/python bench/video_throughput.py [--frames 150] [--detectors hog,...]

Runs :class:`facegate.video.stream.StreamAnalyzer` over the Hamilton clip (640x360, and the
same frames scaled to 1920x1080 for the 1080p figure) with a gallery of the two people in it
(lin-manuel-miranda.png, alex-lacamoire.png), for each detector and ``detect_every`` setting,
and reports frames per second of wall time (decoding included). Writes
``bench/results/video_throughput.json`` with the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from facegate.config import EngineConfig
from facegate.errors import FacegateError
from facegate.gallery.service import Gallery
from facegate.pipeline.engine import FaceEngine
from facegate.video.identity import TrackIdentities
from facegate.video.search import GallerySearcher
from facegate.video.sources import FileSource, Frame, SourceStats
from facegate.video.stream import StreamAnalyzer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
EXAMPLES = DATA / "face_recognition" / "examples"
OUT = Path(__file__).resolve().parent / "results" / "video_throughput.json"


class Scaled:
    """The clip's frames scaled to ``size`` on the fly (scaling counted as decoding)."""

    live = False
    name = "scaled"

    def __init__(self, size: tuple[int, int], max_frames: int) -> None:
        self.inner = FileSource(CLIP, max_frames)
        self.size = size
        self.fps = self.inner.fps
        self.stats = SourceStats()

    def frames(self) -> Iterator[Frame]:
        for f in self.inner.frames():
            pixels = cv2.resize(f.pixels, self.size, interpolation=cv2.INTER_LINEAR)
            yield Frame(f.index, f.timestamp, pixels)

    def close(self) -> None:
        return None


def run(engine: FaceEngine, gallery: Gallery, size: tuple[int, int] | None, frames: int,
        every: int) -> dict[str, object]:  # fmt: skip
    identities = TrackIdentities(engine, GallerySearcher(gallery, "stage"))
    analyzer = StreamAnalyzer(lambda px: engine.detect(px).faces, identities=identities,
                              detect_every=every)  # fmt: skip
    source = FileSource(CLIP, frames) if size is None else Scaled(size, frames)
    started = time.perf_counter()
    summary = analyzer.run(source)
    seconds = time.perf_counter() - started
    return {
        "size": "640x360" if size is None else f"{size[0]}x{size[1]}",
        "detect_every": every,
        "frames": summary.frames,
        "fps": round(summary.frames / seconds, 2),
        "tracks": summary.tracks,
        "searches": summary.searches,
        "identified": sorted(s for s in summary.decisions.values() if s is not None),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--detectors", default="hog:0,hog:1,libfacedetection:0")
    parser.add_argument("--every", default="1,3")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    results = []
    for spec in args.detectors.split(","):
        name, upsample = spec.split(":")
        engine = FaceEngine(EngineConfig(detector=name, upsample=int(upsample)), home=home)
        try:
            engine.load()
        except FacegateError as exc:
            results.append({"detector": spec, "skipped": str(exc)})
            continue
        with Gallery.open(home / name / upsample, engine=engine, master_key="ab" * 32) as g:
            g.add_purpose("stage")
            for person in ("lin-manuel-miranda", "alex-lacamoire"):
                subject = g.create_subject(person)
                g.grant_consent(subject.id, "stage", "bench")
                g.enroll(subject.id, [EXAMPLES / f"{person}.png"], "stage")
            names = {s.id: s.display_name for s in g.subjects("stage")}
            for size in (None, (1920, 1080)):
                for every in map(int, args.every.split(",")):
                    row = run(engine, g, size, args.frames, every)
                    row["identified"] = [names[s] for s in row["identified"]]  # type: ignore[attr-defined]
                    results.append({"detector": spec, **row})
                    print(json.dumps(results[-1]), flush=True)
    report = {"clip": CLIP.name, "cpus": os.cpu_count(), "results": results}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
