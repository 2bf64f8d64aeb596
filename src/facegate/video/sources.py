"""Frame sources: video files, folders of frames, V4L2 cameras and RTSP/HTTP streams.

Every source yields :class:`Frame` values: RGB ``uint8`` pixels, the frame's position in the
source, and its timestamp in seconds *from the stream* (the container's presentation time for
files and network streams; frame number / frame rate for folders of still frames).

Two policies, by kind of source:

- **Files and frame folders** are read in full, in order: nothing is dropped unless a frame
  budget (``max_fps``) says so, and then by timestamp, so the result does not depend on how fast
  the machine is.
- **Live sources** (cameras, ``rtsp://``, ``http(s)://``) are read on a background thread that
  keeps only the *latest* frame: a consumer slower than the camera gets the newest frame and the
  skipped ones are counted in :attr:`SourceStats.dropped`, so processing never falls behind
  real time. A stream that fails is reopened with exponential back-off (``reconnect_min_s``
  doubling up to ``reconnect_max_s``) until ``max_reconnects`` failures in a row.

Files, cameras and streams are read with OpenCV (its FFmpeg backend for files and network
streams, V4L2 for ``/dev/video*`` and camera numbers).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from facegate.errors import ImageReadError
from facegate.imageio import decode, swap_red_blue
from facegate.types import ImageArray

log = logging.getLogger(__name__)

FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
LIVE_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded frame: RGB pixels, position in the source, timestamp in seconds."""

    index: int
    timestamp: float
    pixels: ImageArray

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(slots=True)
class SourceStats:
    """What a source did: frames read from it, handed on, dropped, and reconnections."""

    read: int = 0
    delivered: int = 0
    dropped: int = 0
    reconnects: int = 0


class FrameSource(Protocol):
    """Anything that yields frames. ``live`` sources drop frames rather than fall behind."""

    name: str
    live: bool
    fps: float
    stats: SourceStats

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FrameBudget:
    """At most ``max_fps`` frames per second of stream time are processed (None: every frame).

    Decided on stream timestamps, so a file gives the same frames on any machine.
    """

    max_fps: float | None = None

    def __post_init__(self) -> None:
        if self.max_fps is not None and not self.max_fps > 0:
            raise ValueError("max_fps must be positive")

    def select(self, frames: Iterator[Frame], stats: SourceStats | None = None) -> Iterator[Frame]:
        """The frames that fit the budget; the others are counted as dropped."""
        if self.max_fps is None:
            yield from frames
            return
        step = 1.0 / self.max_fps
        next_due: float | None = None
        for frame in frames:
            # a little slack, so 30 fps at a 15 fps budget keeps exactly every other frame
            if next_due is None or frame.timestamp >= next_due - 0.05 * step:
                next_due = (next_due if next_due is not None else frame.timestamp) + step
                if next_due <= frame.timestamp:  # after a gap: restart the schedule
                    next_due = frame.timestamp + step
                yield frame
            elif stats is not None:
                stats.dropped += 1


def _bgr_to_rgb(bgr: npt.NDArray[np.generic]) -> ImageArray:
    return swap_red_blue(bgr)


class FileSource:
    """A video file read with OpenCV's FFmpeg backend; timestamps from the container."""

    live = False

    def __init__(self, path: Path, max_frames: int | None = None) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.max_frames = max_frames
        self.stats = SourceStats()
        if not self.path.is_file():
            raise ImageReadError(f"no such video file: {self.path}")
        probe = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        try:
            if not probe.isOpened():
                raise ImageReadError(f"cannot open video {self.path} (not a video OpenCV reads)")
            fps = float(probe.get(cv2.CAP_PROP_FPS))
            self.frame_count = int(probe.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            probe.release()
        self.fps = fps if 0 < fps < 1000 else 25.0

    def frames(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not capture.isOpened():
            raise ImageReadError(f"cannot open video {self.path}")
        try:
            index = 0
            last = -1.0
            while self.max_frames is None or index < self.max_frames:
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                stamp = float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if not stamp > last:  # missing or non-monotonic stamps: fall back on the rate
                    stamp = max(last + 1e-6, index / self.fps)
                last = stamp
                self.stats.read += 1
                self.stats.delivered += 1
                yield Frame(index, stamp, _bgr_to_rgb(bgr))
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise ImageReadError(f"video {self.path} has no readable frame")

    def close(self) -> None:
        return None


def _frame_number(path: Path) -> tuple[int, str]:
    numbers = re.findall(r"\d+", path.stem)
    return (int(numbers[-1]) if numbers else -1, path.name)


class FrameFolderSource:
    """A folder of still frames in frame-number order (``clip.0001.jpg``, ...).

    The last number in each file name is its frame number; timestamps are frame number / ``fps``
    measured from the first frame, so gaps in the numbering stay gaps in time.
    """

    live = False

    def __init__(self, folder: Path, fps: float = 25.0, max_frames: int | None = None) -> None:
        self.folder = Path(folder)
        self.name = self.folder.name
        self.fps = fps
        self.max_frames = max_frames
        self.stats = SourceStats()
        if not self.folder.is_dir():
            raise ImageReadError(f"no such folder of frames: {self.folder}")
        self.paths = sorted(
            (p for p in self.folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
            key=_frame_number,
        )
        if not self.paths:
            raise ImageReadError(f"folder {self.folder} holds no frames (.jpg, .png, ...)")

    def frames(self) -> Iterator[Frame]:
        first = _frame_number(self.paths[0])[0]
        for index, path in enumerate(self.paths[: self.max_frames]):
            number = _frame_number(path)[0]
            stamp = (number - first) / self.fps if number >= 0 else index / self.fps
            self.stats.read += 1
            self.stats.delivered += 1
            yield Frame(index, stamp, decode(path))

    def close(self) -> None:
        return None


Opener = Callable[[], "cv2.VideoCapture"]


class LiveSource:
    """A camera or network stream, read on a thread that keeps only the latest frame.

    ``spec`` is a camera number (``0``), a V4L2 device (``/dev/video0``) or a stream URL.
    Timestamps are the stream's own (``CAP_PROP_POS_MSEC``) when it gives them, else the
    monotonic clock from the moment the source opened.
    """

    live = True

    def __init__(
        self,
        spec: str,
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        max_reconnects: int | None = 10,
        read_timeout_s: float = 10.0,
        opener: Opener | None = None,
    ) -> None:
        self.spec = spec
        self.name = _redact_url(spec)
        self.fps = 25.0
        self.stats = SourceStats()
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.max_reconnects = max_reconnects
        self.read_timeout_s = read_timeout_s
        self._opener = opener or self._default_opener
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._finished = False
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _default_opener(self) -> cv2.VideoCapture:
        if self.spec.isdigit():
            return cv2.VideoCapture(int(self.spec), cv2.CAP_V4L2)
        if self.spec.startswith("/dev/video"):
            return cv2.VideoCapture(self.spec, cv2.CAP_V4L2)
        return cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG)

    def start(self) -> LiveSource:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="facegate-source", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        delay = self.reconnect_min_s
        origin = time.monotonic()
        index = 0
        while not self._stop.is_set():
            capture = self._opener()
            if capture.isOpened():
                fps = float(capture.get(cv2.CAP_PROP_FPS))
                self.fps = fps if 0 < fps < 1000 else self.fps
                got, index = self._pump(capture, index, origin)
                if got:
                    failures, delay = 0, self.reconnect_min_s
            capture.release()
            if self._stop.is_set():
                break
            failures += 1
            if self.max_reconnects is not None and failures > self.max_reconnects:
                self._finish(f"stream {self.name} failed {failures} times in a row")
                return
            self.stats.reconnects += 1
            log.warning("stream %s lost; reconnecting in %.1f s", self.name, delay)
            self._stop.wait(delay)
            delay = min(self.reconnect_max_s, delay * 2)
        self._finish(None)

    def _pump(self, capture: cv2.VideoCapture, index: int, origin: float) -> tuple[bool, int]:
        """Read until the stream ends or stops; True when at least one frame came."""
        got = False
        while not self._stop.is_set():
            ok, bgr = capture.read()
            if not ok or bgr is None:
                return got, index
            got = True
            msec = float(capture.get(cv2.CAP_PROP_POS_MSEC))
            stamp = msec / 1000.0 if msec > 0 else time.monotonic() - origin
            frame = Frame(index, stamp, _bgr_to_rgb(bgr))
            index += 1
            with self._cond:
                self.stats.read += 1
                if self._latest is not None:
                    self.stats.dropped += 1  # never taken: the consumer was busy
                self._latest = frame
                self._cond.notify_all()
        return got, index

    def _finish(self, error: str | None) -> None:
        with self._cond:
            self._finished = True
            self._error = error
            self._cond.notify_all()

    def frames(self) -> Iterator[Frame]:
        self.start()
        while True:
            with self._cond:
                ready = self._cond.wait_for(
                    lambda: self._latest is not None or self._finished, self.read_timeout_s
                )
                if not ready:
                    raise ImageReadError(f"no frame from {self.name} in {self.read_timeout_s} s")
                frame, self._latest = self._latest, None
                if frame is None:
                    if self._error is not None:
                        raise ImageReadError(self._error)
                    return
                self.stats.delivered += 1
            yield frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _redact_url(spec: str) -> str:
    """The spec without a password (``rtsp://user:secret@host`` -> ``rtsp://user:***@host``)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", spec)


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to open a source: frame rate for folders, a frame cap, back-off for live streams."""

    folder_fps: float = 25.0
    max_frames: int | None = None
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_reconnects: int | None = 10


def is_live(spec: str) -> bool:
    """Whether ``spec`` names a camera or a network stream (rather than a file or folder)."""
    return spec.isdigit() or spec.startswith("/dev/video") or spec.lower().startswith(LIVE_SCHEMES)


def open_source(spec: str | Path, options: SourceOptions | None = None) -> FrameSource:
    """The source ``spec`` names: a camera, a stream URL, a video file or a folder of frames."""
    opts = options or SourceOptions()
    text = str(spec)
    if is_live(text):
        return LiveSource(
            text,
            reconnect_min_s=opts.reconnect_min_s,
            reconnect_max_s=opts.reconnect_max_s,
            max_reconnects=opts.max_reconnects,
        )
    path = Path(text)
    if path.is_dir():
        return FrameFolderSource(path, opts.folder_fps, opts.max_frames)
    return FileSource(path, opts.max_frames)
