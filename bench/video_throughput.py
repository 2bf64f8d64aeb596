"""End-to-end video throughput: decode, detect, track, identify new tracks.

    nice -n 10 .venv/bin/python bench/video_throughput.py [--configs libfacedetection:640:1,...]
        [--sizes 640x360,1920x1080] [--frames 275] [--home DATA_DIR]

Runs :class:`facegate.video.stream.StreamAnalyzer` the way ``facegate video`` does
(:class:`~facegate.video.detect.FrameFinder`: boxes only, on a copy at most ``side`` pixels on
its longer side, upsample 0; landmarks, quality and one embedding per track only for tracks that
may still be searched) over the Hamilton clip with a gallery of the two people in it
(lin-manuel-miranda.png, alex-lacamoire.png). A config is ``detector:side:every`` (detect on every
``every``-th frame; the tracker carries the boxes between). 1920x1080: the clip re-encoded once
at that size by FFmpeg (``imageio-ffmpeg``, H.264, cached under ``bench/.cache/``), so decoding
a real 1080p stream is counted.

Per run: frames per second of wall time, and of the process's CPU time (user + system: what
the run would take alone on one core, the figure that survives a shared machine), the
detector's share, the load average before and after. Writes
``bench/results/video_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from facegate.config import EngineConfig
from facegate.errors import FacegateError
from facegate.gallery.service import Gallery
from facegate.pipeline.engine import FaceEngine
from facegate.types import Face, ImageArray
from facegate.video.detect import FrameFinder, video_finder
from facegate.video.identity import TrackIdentities
from facegate.video.redact import ffmpeg_exe
from facegate.video.search import GallerySearcher
from facegate.video.sources import FileSource
from facegate.video.stream import StreamAnalyzer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
EXAMPLES = DATA / "face_recognition" / "examples"
CACHE = Path(__file__).resolve().parent / ".cache"
OUT = Path(__file__).resolve().parent / "results" / "video_throughput.json"


def clip_at(size: str) -> Path:
    """The Hamilton clip, re-encoded at ``size`` (WxH) once; the clip itself at 640x360."""
    if size == "640x360":
        return CLIP
    target = CACHE / f"hamilton_{size}.mp4"
    if not target.is_file():
        exe = ffmpeg_exe()
        if exe is None:
            raise SystemExit("1080p needs imageio-ffmpeg (the video extra)")
        CACHE.mkdir(parents=True, exist_ok=True)
        w, h = size.split("x")
        subprocess.run(
            [exe, "-loglevel", "error", "-y", "-i", str(CLIP), "-vf", f"scale={w}:{h}",
             "-c:v", "libx264", "-preset", "fast", "-crf", "18", "-an", str(target)],
            check=True,
        )  # fmt: skip
    return target


class TimedFinder:
    """A finder that adds up the wall and CPU time spent in it."""

    def __init__(self, inner: FrameFinder) -> None:
        self.inner = inner
        self.wall = self.cpu = 0.0

    def __call__(self, pixels: ImageArray) -> list[Face]:
        w, c = time.perf_counter(), time.process_time()
        found = self.inner(pixels)
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        return found


def decode_fps(path: Path, frames: int) -> float:
    started = time.perf_counter()
    count = sum(1 for _ in FileSource(path, frames).frames())
    return count / (time.perf_counter() - started)


def run(engine: FaceEngine, gallery: Gallery, path: Path, side: int, every: int,
        frames: int) -> dict[str, object]:  # fmt: skip
    identities = TrackIdentities(
        engine, GallerySearcher(gallery, "stage"), landmarks=engine.add_landmarks
    )
    finder = TimedFinder(video_finder(engine, side))
    analyzer = StreamAnalyzer(finder, identities=identities, detect_every=every)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    summary = analyzer.run(FileSource(path, frames))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "frames": summary.frames,
        "fps_wall": round(summary.frames / wall, 1),
        "fps_cpu": round(summary.frames / cpu, 1),
        "ms_per_frame_cpu": round(1000 * cpu / summary.frames, 1),
        "detector_ms_per_frame_cpu": round(1000 * finder.cpu / summary.frames, 1),
        "tracks": summary.tracks,
        "searches": summary.searches,
        "identified": sorted(s for s in summary.decisions.values() if s is not None),
        "load_average_before_after": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def enrol(engine: FaceEngine, home: Path) -> tuple[Gallery, dict[str, str]]:
    gallery = Gallery.open(home, engine=engine, master_key="ab" * 32)
    gallery.add_purpose("stage")
    for person in ("lin-manuel-miranda", "alex-lacamoire"):
        subject = gallery.create_subject(person)
        gallery.grant_consent(subject.id, "stage", "bench")
        gallery.enroll(subject.id, [EXAMPLES / f"{person}.png"], "stage")
    return gallery, {s.id: s.display_name or s.id for s in gallery.subjects("stage")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=275)
    parser.add_argument("--configs", default="libfacedetection:640:1,libfacedetection:640:2,"
                        "libfacedetection:480:1,libfacedetection:480:2")  # fmt: skip
    parser.add_argument("--sizes", default="640x360,1920x1080")
    parser.add_argument("--home", type=Path, default=None, help="data dir with the detectors")
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    paths = {size: clip_at(size) for size in args.sizes.split(",")}
    decoding = {size: round(decode_fps(p, args.frames), 1) for size, p in paths.items()}
    for spec in args.configs.split(","):
        name, side, every = spec.split(":")
        engine = FaceEngine(EngineConfig(detector=name, upsample=0), home=args.home)  # type: ignore[arg-type]
        try:
            engine.load()
        except FacegateError as exc:
            results.append({"config": spec, "skipped": str(exc)})
            continue
        gallery, names = enrol(engine, Path(tempfile.mkdtemp()))
        with gallery:
            for size, path in paths.items():
                row = run(engine, gallery, path, int(side), int(every), args.frames)
                row["identified"] = [names[s] for s in row["identified"]]  # type: ignore[attr-defined]
                results.append({"config": spec, "size": size, **row})
                print(json.dumps(results[-1]), flush=True)
    report = {
        "clip": CLIP.name,
        "cpus": os.cpu_count(),
        "decode_only_fps": decoding,
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
