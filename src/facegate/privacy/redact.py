"""Redaction: blur every face in a photo or a video, except faces a caller chooses to keep.

For footage that must be kept or shared: every face the detector finds is pixelated and then
blurred over an enlarged box (so the detector finds no face there afterwards), except faces for
which ``keep`` says so (``facegate redact --keep-purpose P`` keeps subjects identified with an
active consent for P; by default nothing is kept).

Video is read with OpenCV and written as MPEG-4 (``mp4v``). Faces are detected on every
``every``-th frame (default: every frame), and each frame is blurred over the union of the
boxes found in the frames around it (``window`` frames either side, at least ``every``), so a
face the detector misses for a frame or two, or between two detections, is still covered.

Limit, said plainly: redaction is as good as the detector. dlib's HOG detector misses faces in
profile, small faces (under about 40 px with one upsampling) and heavily occluded ones; use the
CNN detector (``FACEGATE_ENGINE__DETECTOR=cnn``) for better recall, and review the output
before it leaves the organisation.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facegate.errors import ImageReadError, UnsupportedImageError
from facegate.imageio import decode, swap_red_blue
from facegate.types import BBox, Face, ImageArray, ProgressFn

log = logging.getLogger(__name__)

FindFaces = Callable[[ImageArray], list[Face]]
KeepFaces = Callable[[ImageArray, list[Face]], list[bool]]
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"})
Box = tuple[int, int, int, int]


@dataclass(slots=True)
class RedactStats:
    """What a redaction did: frames read, faces found, blurred and kept, boxes blurred."""

    frames: int = 0
    faces_found: int = 0
    faces_kept: int = 0
    regions_blurred: int = 0
    blurred: list[list[Box]] = field(default_factory=list)
    kept: list[list[Box]] = field(default_factory=list)

    def to_dict(self) -> dict[str, int]:
        return {
            "frames": self.frames,
            "faces_found": self.faces_found,
            "faces_kept": self.faces_kept,
            "regions_blurred": self.regions_blurred,
        }


def enlarge(box: BBox, width: int, height: int, grow: float = 0.35) -> Box:
    """The box grown by ``grow`` of its size on each side (more upwards: hair, forehead)."""
    w, h = box.width, box.height
    x1 = int(np.floor(box.x1 - grow * w))
    x2 = int(np.ceil(box.x2 + grow * w))
    y1 = int(np.floor(box.y1 - 1.3 * grow * h))
    y2 = int(np.ceil(box.y2 + grow * h))
    return max(0, x1), max(0, y1), min(width, x2), min(height, y2)


def obscure(pixels: ImageArray, box: Box) -> None:
    """Pixelate (blocks of about a quarter of the face) then Gaussian-blur ``box`` in place.

    A quarter, not finer: dlib's CNN detector still found a face in a mosaic of sixths of
    the face on frames of the Hamilton clip (docs/BENCHMARKS.md, "Redaction on tracks")."""
    x1, y1, x2, y2 = box
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    region = pixels[y1:y2, x1:x2]
    h, w = region.shape[:2]
    block = max(6, min(w, h) // 4)
    small = cv2.resize(
        region, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA
    )
    mosaic = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    kernel = 2 * block + 1
    pixels[y1:y2, x1:x2] = cv2.GaussianBlur(mosaic, (kernel, kernel), 0)


def _split(
    pixels: ImageArray, faces: list[Face], keep: KeepFaces | None
) -> tuple[list[Box], list[Box]]:
    """Enlarged boxes to blur and boxes kept, for one analysed frame."""
    h, w = pixels.shape[:2]
    flags = keep(pixels, faces) if keep is not None and faces else [False] * len(faces)
    blur = [enlarge(f.box, w, h) for f, k in zip(faces, flags, strict=True) if not k]
    kept = [enlarge(f.box, w, h) for f, k in zip(faces, flags, strict=True) if k]
    return blur, kept


def redact_image(
    source: Path, target: Path, find: FindFaces, keep: KeepFaces | None = None
) -> RedactStats:
    """Write ``target``: ``source`` with every face blurred except those ``keep`` keeps."""
    pixels = np.ascontiguousarray(decode(source))
    faces = find(pixels)
    blur, kept = _split(pixels, faces, keep)
    for box in blur:
        obscure(pixels, box)
    _write_image(target, pixels)
    return RedactStats(1, len(faces), len(kept), len(blur), [blur], [kept])


def _write_image(target: Path, rgb: ImageArray) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), swap_red_blue(rgb)):
        raise UnsupportedImageError(f"cannot write an image to {target} (use .jpg or .png)")


def _frames(source: Path, max_frames: int | None) -> Iterator[ImageArray]:
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise ImageReadError(f"cannot open video {source}")
    try:
        count = 0
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield np.ascontiguousarray(frame)
    finally:
        capture.release()


def _frame_count(source: Path, max_frames: int | None) -> int:
    """Frames the container says it holds (capped by ``max_frames``); 0 when it does not say."""
    capture = cv2.VideoCapture(str(source))
    try:
        count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()
    return min(count, max_frames) if count and max_frames else count


def _video_fps(source: Path) -> float:
    capture = cv2.VideoCapture(str(source))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return fps if fps > 0 else 25.0


def redact_video(
    source: Path,
    target: Path,
    find: FindFaces,
    keep: KeepFaces | None = None,
    *,
    every: int = 1,
    window: int = 2,
    max_frames: int | None = None,
    progress: ProgressFn | None = None,
) -> RedactStats:
    """Write ``target`` (MPEG-4): ``source`` with every face blurred except those kept.

    ``progress`` hears ``("redacting", frames read, frames expected)`` after each frame (the
    expected count is the container's, capped by ``max_frames``; 0 when unknown).
    """
    total = _frame_count(source, max_frames)
    reach = max(window, every)
    stats = RedactStats()
    pending: deque[tuple[ImageArray, list[Box]]] = deque()
    history: deque[list[Box]] = deque(maxlen=2 * reach + 1)
    writer: cv2.VideoWriter | None = None
    try:
        for index, bgr in enumerate(_frames(source, max_frames)):
            if writer is None:
                writer = _writer(target, _video_fps(source), bgr.shape[1], bgr.shape[0])
            blur, kept = _analyse(bgr, index, every, find, keep, stats)
            if progress is not None:
                progress("redacting", index + 1, max(total, index + 1) if total else 0)
            pending.append((bgr, kept))
            history.append(blur)
            if len(pending) > reach:
                oldest = pending.popleft()
                _emit(writer, oldest, history, len(pending), stats)
        while pending and writer is not None:
            oldest = pending.popleft()
            _emit(writer, oldest, history, len(pending), stats)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ImageReadError(f"video {source} has no readable frame")
    return stats


def _writer(target: Path, fps: float, width: int, height: int) -> cv2.VideoWriter:
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise UnsupportedImageError(f"cannot write a video to {target} (use .mp4)")
    return writer


def _analyse(
    bgr: ImageArray,
    index: int,
    every: int,
    find: FindFaces,
    keep: KeepFaces | None,
    stats: RedactStats,
) -> tuple[list[Box], list[Box]]:
    stats.frames += 1
    if index % every:
        return [], []
    rgb = swap_red_blue(bgr)
    faces = find(rgb)
    blur, kept = _split(rgb, faces, keep)
    stats.faces_found += len(faces)
    stats.faces_kept += len(kept)
    return blur, kept


def _emit(
    writer: cv2.VideoWriter,
    item: tuple[ImageArray, list[Box]],
    history: deque[list[Box]],
    ahead: int,
    stats: RedactStats,
) -> None:
    """Blur one frame over the boxes of every frame in the window around it, then write it.

    ``history`` ends with the newest analysed frame; this frame is ``ahead`` frames older.
    """
    frame, kept = item
    position = len(history) - 1 - ahead
    reach = (history.maxlen or 1) // 2
    boxes = [
        box
        for i in range(max(0, position - reach), min(len(history), position + reach + 1))
        for box in history[i]
    ]
    for box in boxes:
        obscure(frame, box)
    stats.regions_blurred += len(boxes)
    stats.blurred.append(boxes)
    stats.kept.append(kept)
    writer.write(frame)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES
