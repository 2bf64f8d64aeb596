"""Redaction of a video file on tracks, with its audio kept.

Two passes over the file:

1. **Find.** Faces are detected in every frame and tracked (:class:`IouTracker`; tracks end at
   scene cuts). Every detected face is to be blurred (unless ``keep`` keeps it), whether or
   not its track is ever confirmed. A track's *gaps* (frames between two of its detections in
   which the detector missed it) get boxes interpolated linearly between the detections on
   either side, and the track's first and last boxes are held for ``pad_frames`` frames before
   and after it (within its shot), so a face stays covered where the detector loses it for a
   while, and as it enters and leaves.
2. **Write.** Each frame is blurred over its boxes (enlarged, pixelated then blurred:
   :func:`facegate.privacy.redact.obscure`) and piped to FFmpeg (the binary from the PyPI
   package ``imageio-ffmpeg``), which encodes H.264 and copies the audio of the source in as
   AAC. Without ``imageio-ffmpeg`` the video is written by OpenCV (MPEG-4) and has no audio;
   :attr:`TrackRedactStats.audio` says which. The output is written to a temporary file next
   to the target and renamed into place, so a failure leaves nothing half-written.

Limit, said plainly: a face the detector never finds in any frame of a track is not blurred.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facegate.errors import UnsupportedImageError
from facegate.imageio import swap_red_blue
from facegate.privacy.redact import Box, FindFaces, KeepFaces, enlarge, obscure
from facegate.types import BBox, ImageArray
from facegate.video.sources import FileSource
from facegate.video.stream import SceneCuts
from facegate.video.tracker import IouTracker

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class TrackRedactStats:
    """What a redaction did, per frame and in total."""

    frames: int = 0
    faces_found: int = 0
    faces_kept: int = 0
    frames_with_faces: int = 0
    frames_blurred: int = 0
    boxes_interpolated: int = 0
    tracks: int = 0
    audio: bool = False
    blurred: list[list[Box]] = field(default_factory=list)

    def to_dict(self) -> dict[str, int | bool]:
        return {
            "frames": self.frames,
            "faces_found": self.faces_found,
            "faces_kept": self.faces_kept,
            "frames_with_faces": self.frames_with_faces,
            "frames_blurred": self.frames_blurred,
            "boxes_interpolated": self.boxes_interpolated,
            "tracks": self.tracks,
            "audio": self.audio,
        }


@dataclass(slots=True)
class _TrackBoxes:
    shot: int
    frames: dict[int, tuple[BBox, bool]] = field(default_factory=dict)  # frame -> (box, kept)


def _find_pass(
    source: FileSource,
    find: FindFaces,
    keep: KeepFaces | None,
    progress: Progress | None,
    every: int = 1,
) -> tuple[list[list[tuple[BBox, bool]]], dict[int, _TrackBoxes], list[int], TrackRedactStats]:
    """Per frame, the faces found (box, kept); per track, its detections; each frame's shot."""
    stats = TrackRedactStats()
    tracker = IouTracker(
        min_hits=1, max_missed=int(source.fps * 2), max_age_s=every / source.fps + 1
    )
    cuts = SceneCuts()
    per_frame: list[list[tuple[BBox, bool]]] = []
    tracks: dict[int, _TrackBoxes] = {}
    shots: list[int] = []
    shot = 0
    total = source.frame_count
    for frame in source.frames():
        if cuts.is_cut(frame.pixels):
            shot += 1
            tracker.finish()
        if frame.index % every:  # not analysed: the track's interpolation covers it
            per_frame.append([])
            shots.append(shot)
            continue
        faces = find(frame.pixels)
        flags = keep(frame.pixels, faces) if keep is not None and faces else [False] * len(faces)
        update = tracker.update(faces, frame.timestamp)
        kept_of = {id(f): k for f, k in zip(faces, flags, strict=True)}
        for tracked in update.tracks:
            if tracked.face is not None:
                entry = tracks.setdefault(tracked.track_id, _TrackBoxes(shot))
                entry.frames[frame.index] = (tracked.face.box, kept_of[id(tracked.face)])
        per_frame.append([(f.box, k) for f, k in zip(faces, flags, strict=True)])
        shots.append(shot)
        stats.faces_found += len(faces)
        stats.faces_kept += sum(flags)
        if progress is not None:
            progress("find", frame.index + 1, total)
    stats.frames = len(per_frame)
    stats.tracks = len(tracks)
    return per_frame, tracks, shots, stats


def _lerp(a: BBox, b: BBox, t: float) -> BBox:
    return BBox(
        a.x1 + (b.x1 - a.x1) * t,
        a.y1 + (b.y1 - a.y1) * t,
        a.x2 + (b.x2 - a.x2) * t,
        a.y2 + (b.y2 - a.y2) * t,
    )


def fill_track(
    frames: dict[int, tuple[BBox, bool]], shots: list[int], shot: int, pad_frames: int
) -> dict[int, BBox]:
    """Boxes to blur for one track in the frames where it was *not* detected.

    Gaps between two detections get interpolated boxes (unless both sides were kept); the
    first and last detections are held for ``pad_frames`` frames outside the track, within
    the same shot.
    """
    found = sorted(frames)
    out: dict[int, BBox] = {}
    for a, b in zip(found, found[1:], strict=False):
        (box_a, kept_a), (box_b, kept_b) = frames[a], frames[b]
        if kept_a and kept_b:
            continue
        for i in range(a + 1, b):
            out[i] = _lerp(box_a, box_b, (i - a) / (b - a))
    first, last = found[0], found[-1]
    for i in range(max(0, first - pad_frames), first):
        if shots[i] == shot and not frames[first][1]:
            out[i] = frames[first][0]
    for i in range(last + 1, min(len(shots), last + pad_frames + 1)):
        if shots[i] == shot and not frames[last][1]:
            out[i] = frames[last][0]
    return out


def plan_boxes(
    per_frame: list[list[tuple[BBox, bool]]],
    tracks: dict[int, _TrackBoxes],
    shots: list[int],
    pad_frames: int,
    stats: TrackRedactStats,
) -> list[list[BBox]]:
    """Per frame, every box to blur: detections not kept, plus the tracks' filled boxes."""
    plan: list[list[BBox]] = [[box for box, kept in faces if not kept] for faces in per_frame]
    for entry in tracks.values():
        for index, box in fill_track(entry.frames, shots, entry.shot, pad_frames).items():
            plan[index].append(box)
            stats.boxes_interpolated += 1
    stats.frames_with_faces = sum(1 for faces in per_frame if faces)
    stats.frames_blurred = sum(1 for boxes in plan if boxes)
    return plan


def ffmpeg_exe() -> str | None:
    """The FFmpeg binary shipped by ``imageio-ffmpeg``, or None when it is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


class _Writer:
    """Raw BGR frames in; an H.264 file with the source's audio out (or OpenCV's MPEG-4)."""

    def __init__(self, target: Path, source: Path, fps: float, size: tuple[int, int]) -> None:
        self.exe = ffmpeg_exe()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cv: cv2.VideoWriter | None = None
        width, height = size
        if self.exe is not None:
            command = [
                self.exe, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                "-r", f"{fps:.6f}", "-i", "-", "-i", str(source),
                "-map", "0:v:0", "-map", "1:a?", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                "-f", "mp4", str(target),
            ]  # fmt: skip
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            self._cv = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
            if not self._cv.isOpened():
                raise UnsupportedImageError(f"cannot write a video to {target}")

    def write(self, bgr: ImageArray) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.write(np.ascontiguousarray(bgr).tobytes())
        elif self._cv is not None:
            self._cv.write(bgr)

    def abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        if self._cv is not None:
            self._cv.release()
        if self._proc is not None:
            _, err = self._proc.communicate()
            if self._proc.returncode != 0:
                message = err.decode(errors="replace").strip().splitlines()
                raise UnsupportedImageError(f"ffmpeg failed: {message[-1] if message else '?'}")


def has_audio(path: Path) -> bool:
    """Whether ``path`` holds an audio stream (asks FFmpeg; False without it)."""
    exe = ffmpeg_exe()
    if exe is None:
        return False
    probe = subprocess.run(
        [exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    )
    return " Audio: " in probe.stderr


def _frames_bgr(source: FileSource) -> Iterator[ImageArray]:
    for frame in source.frames():
        yield swap_red_blue(frame.pixels)


def redact_tracked(
    source: Path,
    target: Path,
    find: FindFaces,
    keep: KeepFaces | None = None,
    *,
    pad_frames: int = 5,
    every: int = 1,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> TrackRedactStats:
    """Write ``target`` (MP4): ``source`` with every tracked face blurred, audio kept.

    Faces are detected on every ``every``-th frame; tracks carry the boxes between.
    """
    video = FileSource(source, max_frames)
    per_frame, tracks, shots, stats = _find_pass(video, find, keep, progress, every)
    plan = plan_boxes(per_frame, tracks, shots, pad_frames, stats)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(suffix=".mp4", dir=target.parent, prefix=".redact-")
    os.close(handle)
    temp = Path(temp_name)
    writer: _Writer | None = None
    try:
        for index, bgr in enumerate(_frames_bgr(FileSource(source, max_frames))):
            height, width = bgr.shape[:2]
            if writer is None:
                writer = _Writer(temp, source, video.fps, (width, height))
            boxes = [enlarge(box, width, height) for box in plan[index]]
            for box in boxes:
                obscure(bgr, box)
            stats.blurred.append(boxes)
            writer.write(bgr)
            if progress is not None:
                progress("write", index + 1, stats.frames)
        if writer is not None:
            writer.close()
        stats.audio = has_audio(temp)
        os.replace(temp, target)
    finally:
        if writer is not None:
            writer.abort()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return stats
