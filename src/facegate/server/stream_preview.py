"""The latest frame of a running stream and where its tracks are in it, for the console.

Only the most recent processed frame is held (in memory, replaced by the next one, dropped with
the stream); it is served as a JPEG to keys that may see the stream, with the frame's tracks
(ids, boxes, the subject id once a track is identified) so the console can draw them. Names
come from the stream's events and the subjects API, never from here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2

from facegate.imageio import swap_red_blue
from facegate.video.sources import Frame
from facegate.video.stream import FrameTracks


@dataclass(frozen=True, slots=True)
class PreviewFrame:
    """One encoded frame and its tracks."""

    index: int
    timestamp: float
    width: int
    height: int
    jpeg: bytes
    tracks: list[dict[str, Any]]


class StreamPreview:
    """Keeps the last frame handed to :meth:`update` (an ``on_frame`` callback); encodes it
    only when asked, at most once per frame."""

    def __init__(self, quality: int = 80) -> None:
        self.quality = quality
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._tracks: list[dict[str, Any]] = []
        self._encoded: PreviewFrame | None = None

    def update(self, frame: Frame, result: FrameTracks) -> None:
        tracks = []
        for tracked in result.tracks:
            if not tracked.confirmed:
                continue
            b = tracked.box
            decision = result.decisions.get(tracked.track_id)
            tracks.append(
                {
                    "track_id": tracked.track_id,
                    "box": [round(v, 1) for v in (b.x1, b.y1, b.x2, b.y2)],
                    "predicted": tracked.predicted,
                    "subject_id": decision.subject_id if decision is not None else None,
                    "decided": decision is not None,
                }
            )
        with self._lock:
            self._frame = frame
            self._tracks = tracks
            self._encoded = None

    def latest(self) -> PreviewFrame | None:
        """The last frame as JPEG with its tracks, or ``None`` before the first frame."""
        with self._lock:
            frame, tracks, encoded = self._frame, self._tracks, self._encoded
        if frame is None:
            return None
        if encoded is not None and encoded.index == frame.index:
            return encoded
        bgr = swap_red_blue(frame.pixels)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        out = PreviewFrame(
            frame.index, frame.timestamp, frame.width, frame.height, buf.tobytes(), tracks
        )
        with self._lock:
            if self._frame is frame:
                self._encoded = out
        return out
