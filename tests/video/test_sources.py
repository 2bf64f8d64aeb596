from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.errors import ImageReadError
from facegate.video.sources import (
    FileSource,
    FrameBudget,
    FrameFolderSource,
    LiveSource,
    _redact_url,
    is_live,
    open_source,
)


def test_file_source_reads_every_frame_with_stream_timestamps(hamilton: Path) -> None:
    source = FileSource(hamilton)
    frames = list(source.frames())
    assert len(frames) == 275 == source.stats.delivered
    assert frames[0].pixels.shape == (360, 640, 3) and frames[0].pixels.dtype == np.uint8
    stamps = np.array([f.timestamp for f in frames])
    assert stamps[0] == pytest.approx(0.0)
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    assert np.median(steps) == pytest.approx(1 / 29.97, rel=1e-3)
    assert [f.index for f in frames] == list(range(275))


def test_file_source_gives_rgb(hamilton: Path) -> None:
    capture = cv2.VideoCapture(str(hamilton), cv2.CAP_FFMPEG)
    ok, bgr = capture.read()
    capture.release()
    assert ok
    first = next(iter(FileSource(hamilton).frames()))
    assert np.array_equal(first.pixels, bgr[:, :, ::-1])


def test_avi_and_frame_folder_of_the_same_clip(ytf: Path) -> None:
    avi = list(FileSource(ytf / "Aaron_Guiel" / "Aaron_Guiel5.avi").frames())
    folder = FrameFolderSource(ytf / "Aaron_Guiel" / "5", fps=30.0)
    stills = list(folder.frames())
    assert len(avi) == len(stills) == 132
    assert avi[0].pixels.shape == stills[0].pixels.shape == (240, 320, 3)
    # frame numbers 1841..2007 may skip: the folder's timestamps keep the gaps
    assert stills[0].timestamp == 0.0
    assert stills[-1].timestamp == pytest.approx((2007 - 1841) / 30.0)
    assert all(b.timestamp > a.timestamp for a, b in zip(stills, stills[1:], strict=False))


def test_frame_budget_keeps_frames_by_stream_time(hamilton: Path) -> None:
    source = FileSource(hamilton)
    kept = list(FrameBudget(15.0).select(source.frames(), source.stats))
    assert 136 <= len(kept) <= 139  # 275 frames at 29.97 fps, every other one
    assert source.stats.dropped == 275 - len(kept)
    gaps = np.diff([f.timestamp for f in kept])
    assert gaps.min() >= 1 / 15.0 * 0.9


def test_frame_budget_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        FrameBudget(0.0)


def test_open_source_dispatch(hamilton: Path, ytf: Path, tmp_path: Path) -> None:
    assert isinstance(open_source(hamilton), FileSource)
    assert isinstance(open_source(ytf / "Albert_Brooks" / "0"), FrameFolderSource)
    assert isinstance(open_source("rtsp://cam.local/stream"), LiveSource)
    assert is_live("0") and is_live("/dev/video2") and is_live("https://x/y.mjpg")
    assert not is_live(str(hamilton))
    with pytest.raises(ImageReadError):
        open_source(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ImageReadError):
        list(open_source(text).frames())
    with pytest.raises(ImageReadError):
        open_source(tmp_path)  # a folder with no frames


def test_password_is_not_shown() -> None:
    assert _redact_url("rtsp://admin:secret@10.0.0.5/live") == "rtsp://admin:***@10.0.0.5/live"
    assert _redact_url("/dev/video0") == "/dev/video0"


def _file_opener(path: Path, fail_first: int = 0) -> tuple[object, list[int]]:
    calls = [0]

    def opener() -> cv2.VideoCapture:
        calls[0] += 1
        if calls[0] <= fail_first:
            return cv2.VideoCapture()  # not opened: a camera that is not there (yet)
        return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)

    return opener, calls


def test_live_source_drops_frames_rather_than_fall_behind(hamilton: Path) -> None:
    opener, _ = _file_opener(hamilton)
    source = LiveSource("test", opener=opener, max_reconnects=0)  # type: ignore[arg-type]
    taken = []
    with pytest.raises(ImageReadError, match="failed 1 times"):  # the stream ended for good
        for frame in source.frames():
            taken.append(frame.index)
            time.sleep(0.05)  # a consumer slower than decoding
    source.close()
    assert source.stats.read == 275
    assert source.stats.dropped > 0
    assert source.stats.delivered == len(taken) < 275
    assert taken == sorted(taken)  # newest frames, in order
    assert source.stats.delivered + source.stats.dropped == source.stats.read


def test_live_source_reconnects_with_back_off(hamilton: Path) -> None:
    opener, calls = _file_opener(hamilton, fail_first=2)
    source = LiveSource(
        "test",
        opener=opener,
        reconnect_min_s=0.05,
        max_reconnects=3,  # type: ignore[arg-type]
    )
    started = time.monotonic()
    first = next(iter(source.frames()))
    waited = time.monotonic() - started
    source.close()
    assert first.pixels.shape == (360, 640, 3)
    assert calls[0] >= 3
    assert source.stats.reconnects >= 2
    assert waited >= 0.05 + 0.1  # two waits, the second one doubled


def test_live_source_gives_up_after_max_reconnects() -> None:
    def opener() -> cv2.VideoCapture:
        return cv2.VideoCapture()

    source = LiveSource(
        "rtsp://u:pw@nowhere/x", opener=opener, reconnect_min_s=0.01, max_reconnects=2
    )
    with pytest.raises(ImageReadError, match=r"rtsp://u:\*\*\*@nowhere/x failed 3 times"):
        list(source.frames())
    source.close()


def test_live_source_stops_on_close(hamilton: Path) -> None:
    opener, _ = _file_opener(hamilton)
    source = LiveSource("test", opener=opener)  # type: ignore[arg-type]
    frames = source.frames()
    next(frames)
    threading.Thread(target=source.close).start()
    remaining = list(frames)
    assert len(remaining) < 275
