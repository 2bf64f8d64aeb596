"""Video detection and tracking measures on clips with one annotated face per frame.

The shared YouTube Faces clips (``ytf_dev/boxes.csv``: ``frame,x1,y1,x2,y2,person,clip``)
annotate one face per frame. Per frame, a box *finds* the face when it overlaps the annotation
by at least ``min_iou`` (YTF's boxes come from its own detector and are larger and looser than
dlib's, so the default is 0.3, stated with every figure); every other box is a false positive.

- **recall**: frames whose face was found / annotated frames;
- **false positives per frame**: unmatched boxes / frames;
- **ID switches**: times the track covering the face changes from one frame to the next it is
  covered (a clip with one person should have none);
- **tracks per clip**: confirmed tracks that covered the face at least once (ideal: 1).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facegate.types import BBox


@dataclass(frozen=True, slots=True)
class AnnotatedFrame:
    path: Path
    box: BBox
    person: str
    number: int


def load_ytf(root: Path) -> dict[str, list[AnnotatedFrame]]:
    """Clips of ``ytf_dev`` in frame order: clip name -> annotated frames."""
    clips: dict[str, list[tuple[int, AnnotatedFrame]]] = defaultdict(list)
    with (root / "boxes.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            number = int(Path(row["frame"]).stem.rsplit(".", 1)[-1])
            box = BBox(float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]))
            clips[row["clip"]].append(
                (number, AnnotatedFrame(root / row["frame"], box, row["person"], number))
            )
    return {
        clip: [f for _, f in sorted(items, key=lambda x: x[0])] for clip, items in clips.items()
    }


@dataclass(slots=True)
class ClipCounts:
    """Counts for one clip (or many, added up)."""

    frames: int = 0
    found: int = 0
    false_positives: int = 0
    id_switches: int = 0
    tracks: set[tuple[str, int]] = field(default_factory=set)
    clips: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.frames if self.frames else 0.0

    @property
    def fp_per_frame(self) -> float:
        return self.false_positives / self.frames if self.frames else 0.0

    def add(self, other: ClipCounts) -> None:
        self.frames += other.frames
        self.found += other.found
        self.false_positives += other.false_positives
        self.id_switches += other.id_switches
        self.tracks |= other.tracks
        self.clips += other.clips

    def to_dict(self) -> dict[str, float | int]:
        return {
            "frames": self.frames,
            "recall": round(self.recall, 4),
            "fp_per_frame": round(self.fp_per_frame, 4),
            "id_switches": self.id_switches,
            "tracks": len(self.tracks),
            "tracks_per_clip": round(len(self.tracks) / self.clips, 2) if self.clips else 0.0,
        }


def best_match(truth: BBox, boxes: Sequence[BBox], min_iou: float) -> int | None:
    """Index of the box overlapping ``truth`` most (at least ``min_iou``), or None."""
    best, best_iou = None, min_iou
    for i, box in enumerate(boxes):
        overlap = truth.iou(box)
        if overlap >= best_iou:
            best, best_iou = i, overlap
    return best


def score_clip(
    clip: str,
    truths: Sequence[BBox],
    frames: Sequence[Sequence[tuple[BBox, int | None]]],
    min_iou: float = 0.3,
) -> ClipCounts:
    """Counts for one clip: per frame, the boxes output and the track id of each (or None)."""
    counts = ClipCounts(clips=1)
    last_track: int | None = None
    for truth, boxes in zip(truths, frames, strict=True):
        counts.frames += 1
        hit = best_match(truth, [b for b, _ in boxes], min_iou)
        counts.false_positives += len(boxes) - (hit is not None)
        if hit is None:
            continue
        counts.found += 1
        track = boxes[hit][1]
        if track is None:
            continue
        counts.tracks.add((clip, track))
        if last_track is not None and track != last_track:
            counts.id_switches += 1
        last_track = track
    return counts
