"""Per-frame face detection in video, with and without tracking: recall and false positives.

    nice -n 10 .venv/bin/python bench/video_recall.py [--configs libfacedetection:640,...]
        [--every 1,2,3] [--home DATA_DIR]

Clips: the three YouTube Faces clips of ``../shared/data/ytf_dev`` (one annotated face per frame:
YTF's own box) and the Hamilton clip (no annotated boxes: dlib's CNN detector at upsample 1
stands in for the truth, a stated proxy, on every ``--reference-stride``-th frame (3: 92 of the
275 frames; the CNN costs about a second a frame here); it misses some real faces, so a box it
does not confirm is not necessarily a false positive). Each config is scored at each minimum
detector score of ``--scores``. A config is ``detector:side`` (detection on a
copy whose longer side is at most ``side`` pixels, upsample 0, the detector's default threshold,
boxes mostly inside a better one dropped: as :class:`facegate.video.detect.FrameFinder` runs
it). For each config:

- **detector alone**: the boxes the detector returns on every frame;
- **tracked, every k**: :class:`facegate.video.stream.StreamAnalyzer` detecting on every k-th
  frame (scene cuts end tracks), its output boxes in every frame (tracks' detections, and their
  held boxes between detections and through short misses); the mean over the k phases of the
  detection frames (which frames get detected).

A box finds a face when they overlap with IoU >= ``--min-iou`` (0.3: YTF's and dlib's boxes are
drawn differently from libfacedetection's), one-to-one. Detections are cached under
``bench/.cache/`` so a rerun only re-scores. Writes ``bench/results/video_recall.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from facegate.config import EngineConfig
from facegate.eval.video import load_ytf, score_clip
from facegate.imageio import decode
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Face, ImageArray
from facegate.video.detect import MAX_INSIDE, drop_contained
from facegate.video.sources import FileSource, Frame
from facegate.video.stream import StreamAnalyzer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
CACHE = Path(__file__).resolve().parent / ".cache"
OUT = Path(__file__).resolve().parent / "results" / "video_recall.json"
Boxes = list[tuple[BBox, float]]


def clip_frames() -> dict[str, list[Frame]]:
    """Every clip as frames with stream timestamps (YTF: frame number / 30 fps)."""
    clips = {"hamilton": list(FileSource(CLIP).frames())}
    for name, annotated in load_ytf(DATA / "ytf_dev").items():
        clips[name] = [
            Frame(i, f.number / 30.0, decode(f.path)) for i, f in enumerate(annotated)
        ]  # fmt: skip
    return clips


def detections(
    name: str, engine: FaceEngine, side: int, clips: dict[str, list[Frame]]
) -> dict[str, list[Boxes]]:
    """Boxes per frame of every clip, from the cache when there."""
    path = CACHE / f"video_recall_{name}.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return {c: [[(BBox(*b), s) for b, s in fr] for fr in frames] for c, frames in raw.items()}
    found = {
        clip: [[(f.box, f.score) for f in engine.locate(fr.pixels, max_side=side)] for fr in frames]
        for clip, frames in clips.items()
    }  # fmt: skip
    CACHE.mkdir(parents=True, exist_ok=True)
    raw = {c: [[(b.as_list(), s) for b, s in fr] for fr in frames] for c, frames in found.items()}
    path.write_text(json.dumps(raw))
    return found


def without_contained(boxes: Boxes) -> Boxes:
    """What FrameFinder keeps of one frame's raw boxes (see ``drop_contained``)."""
    kept = drop_contained([Face(b, s) for b, s in boxes], MAX_INSIDE)
    return [(f.box, f.score) for f in kept]


def tracked(
    frames: Sequence[Frame], found: Sequence[Boxes], every: int, phase: int = 0
) -> list[list[BBox]]:
    """The analyzer's output boxes per frame, detecting on every ``every``-th frame (the first
    detection at frame ``(every - phase) % every``)."""
    at = {"index": 0}

    def find(_: ImageArray) -> list[Face]:
        return [Face(box, score) for box, score in found[at["index"]]]

    class Replay:
        live, name, fps = False, "replay", 30.0

        def __init__(self) -> None:
            from facegate.video.sources import SourceStats

            self.stats = SourceStats()

        def frames(self) -> Iterator[Frame]:
            for i, frame in enumerate(frames):
                at["index"] = i
                yield Frame(i + phase, frame.timestamp, frame.pixels)

        def close(self) -> None:
            return None

    out: list[list[BBox]] = []
    analyzer = StreamAnalyzer(find, detect_every=every)
    analyzer.run(Replay(), on_frame=lambda f, r: out.append([t.box for t in r.tracks]))
    return out


def match_count(truth: Sequence[BBox], boxes: Sequence[BBox], min_iou: float) -> int:
    """Truth boxes found, one-to-one, highest overlap first."""
    pairs = sorted(
        ((t.iou(b), ti, bi) for ti, t in enumerate(truth) for bi, b in enumerate(boxes)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_b: set[int] = set()
    for overlap, ti, bi in pairs:
        if overlap < min_iou:
            break
        if ti not in used_t and bi not in used_b:
            used_t.add(ti)
            used_b.add(bi)
    return len(used_t)


def score_reference(
    reference: Sequence[Boxes], output: Sequence[Sequence[BBox]], min_iou: float
) -> dict[str, float | int]:
    faces = found = extra = missing_frames = 0
    for truth, boxes in zip(reference, output, strict=True):
        ref = [b for b, _ in truth]
        hit = match_count(ref, boxes, min_iou)
        faces += len(ref)
        found += hit
        extra += len(boxes) - hit
        missing_frames += hit < len(ref)
    return {
        "reference_faces": faces,
        "recall": round(found / faces, 4) if faces else 0.0,
        "unconfirmed_per_frame": round(extra / len(output), 4),
        "frames_missing_a_reference_face": missing_frames,
    }


def score_ytf(
    clips: dict[str, list[Frame]], output: dict[str, list[list[BBox]]], min_iou: float
) -> dict[str, float | int]:
    from facegate.eval.video import ClipCounts

    truth = load_ytf(DATA / "ytf_dev")
    total = ClipCounts()
    for name in truth:
        boxes = [[(b, None) for b in frame] for frame in output[name]]
        total.add(score_clip(name, [f.box for f in truth[name]], boxes, min_iou))
    d = total.to_dict()
    return {"frames": d["frames"], "recall": d["recall"], "fp_per_frame": d["fp_per_frame"]}


def add(total: dict[str, float], row: dict[str, float | int]) -> None:
    for key, value in row.items():
        total[key] = total.get(key, 0.0) + float(value)


def mean_of(total: dict[str, float], count: int) -> dict[str, float]:
    return {key: round(value / count, 4) for key, value in total.items()}


def evaluate(
    clips: dict[str, list[Frame]],
    found: dict[str, list[Boxes]],
    reference: list[Boxes],
    stride: int,
    everies: Sequence[int],
    min_iou: float,
) -> dict[str, object]:
    rows: dict[str, object] = {}
    alone = {c: [[b for b, _ in fr] for fr in frames] for c, frames in found.items()}
    rows["detector alone"] = {
        "ytf": score_ytf(clips, alone, min_iou),
        "hamilton": score_reference(reference, alone["hamilton"][::stride], min_iou),
    }
    for every in everies:
        # every phase of the detection frames, added up: the Hamilton reference is on every
        # stride-th frame, which would otherwise fall on detection frames only (or never)
        ytf: dict[str, float] = {}
        ham: dict[str, float] = {}
        for phase in range(every):
            out = {c: tracked(frames, found[c], every, phase) for c, frames in clips.items()}
            add(ytf, score_ytf(clips, out, min_iou))
            add(ham, score_reference(reference, out["hamilton"][::stride], min_iou))
        rows[f"tracked, detect every {every}"] = {
            "ytf": mean_of(ytf, every),
            "hamilton": mean_of(ham, every),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", default="libfacedetection:640,libfacedetection:480,"
                        "libfacedetection:320,hog:640")  # fmt: skip
    parser.add_argument("--every", default="1,2,3")
    parser.add_argument("--scores", default="0.5,0.6,0.7", help="minimum detector scores")
    parser.add_argument("--reference-stride", type=int, default=3, help="score every Nth frame")
    parser.add_argument("--min-iou", type=float, default=0.3)
    parser.add_argument("--home", type=Path, default=None, help="data dir with the detectors")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    clips = clip_frames()
    cnn = FaceEngine(EngineConfig(detector="cnn", upsample=1), home=args.home)
    stride = args.reference_stride
    sampled = {"hamilton": clips["hamilton"][::stride]}
    reference = detections(f"cnn_u1_reference_{stride}", cnn, 1600, sampled)["hamilton"]
    results: dict[str, object] = {}
    everies = [int(k) for k in args.every.split(",")]
    for spec in args.configs.split(","):
        detector, side = spec.split(":")
        engine = FaceEngine(EngineConfig(detector=detector, upsample=0), home=args.home)  # type: ignore[arg-type]
        raw = detections(f"{detector}_{side}", engine, int(side), clips)
        for minimum in (float(x) for x in args.scores.split(",")):
            found = {
                c: [without_contained([(b, sc) for b, sc in fr if sc >= minimum]) for fr in frames]
                for c, frames in raw.items()
            }  # fmt: skip
            key = f"{spec} score>={minimum}"
            results[key] = evaluate(clips, found, reference, stride, everies, args.min_iou)
            print(json.dumps({key: results[key]}), flush=True)
    report = {
        "min_iou": args.min_iou,
        "hamilton_reference": "dlib CNN (MMOD), upsample 1, every frame (a proxy: no annotations)",
        "hamilton_reference_frames": f"every {stride}th of 275",
        "hamilton_reference_faces": sum(len(f) for f in reference),
        "load_average_start_end": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
