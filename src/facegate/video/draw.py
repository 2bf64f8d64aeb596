"""Boxes, track ids and names drawn on frames (``facegate video --draw``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2

from facegate.errors import UnsupportedImageError
from facegate.imageio import swap_red_blue
from facegate.types import ImageArray
from facegate.video.stream import FrameTracks

KNOWN = (60, 200, 60)
UNKNOWN = (0, 170, 255)
PENDING = (200, 200, 200)


def draw_tracks(rgb: ImageArray, result: FrameTracks, names: Mapping[str, str]) -> ImageArray:
    """A BGR copy of the frame with each confirmed track's box, id and name (or "unknown")."""
    bgr = swap_red_blue(rgb)
    for tracked in result.tracks:
        if not tracked.confirmed:
            continue
        decision = result.decisions.get(tracked.track_id)
        if decision is None:
            label, colour = f"#{tracked.track_id}", PENDING
        elif decision.subject_id is None:
            label, colour = f"#{tracked.track_id} unknown", UNKNOWN
        else:
            name = names.get(decision.subject_id, decision.subject_id[:8])
            label, colour = f"#{tracked.track_id} {name}", KNOWN
        b = tracked.box
        thickness = 1 if tracked.predicted else 2
        top_left = (int(b.x1), int(b.y1))
        cv2.rectangle(bgr, top_left, (int(b.x2), int(b.y2)), colour, thickness)
        cv2.putText(bgr, label, (int(b.x1), max(12, int(b.y1) - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)  # fmt: skip
    return bgr


class DrawWriter:
    """Writes drawn frames to an MPEG-4 file (opened on the first frame)."""

    def __init__(self, target: Path, fps: float) -> None:
        self.target = target
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None

    def write(self, bgr: ImageArray) -> None:
        if self._writer is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            size = (int(bgr.shape[1]), int(bgr.shape[0]))
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.target), fourcc, self.fps, size)
            if not self._writer.isOpened():
                raise UnsupportedImageError(f"cannot write a video to {self.target} (use .mp4)")
        self._writer.write(bgr)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
