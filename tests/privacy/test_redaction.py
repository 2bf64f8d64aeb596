"""Redaction on real footage: after redaction the detector finds no face where faces were
blurred, and a consented person's face is left exactly as it was."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

from facegate.cli.main import main
from facegate.imageio import decode
from facegate.pipeline.engine import FaceEngine
from facegate.privacy.redact import Box, redact_video
from facegate.types import BBox, Face

if TYPE_CHECKING:
    from conftest import FrameFaces


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope="module")
def checkers(engine: FaceEngine) -> list[FaceEngine]:
    """Two engines of the same settings, for searching the output on two threads: one engine's
    detector must not run on two threads at once."""
    return [engine, FaceEngine(engine.config)]


def _overlaps(face: BBox, boxes: list[Box]) -> bool:
    return any(face.iou(BBox(*map(float, b))) > 0.0 for b in boxes)


def _cli(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    assert done.value.code == 0


def test_redact_photo_keeps_only_the_consented_face(
    engine: FaceEngine, examples: Path, tmp_path: Path
) -> None:
    data = ["--data", str(tmp_path / "data")]
    _cli(
        "consent", "grant", "--subject", "Obama", "--purpose", "press:kept", "--text", "yes", *data
    )
    _cli(
        "enroll",
        "--subject",
        "Obama",
        "--purpose",
        "press:kept",
        str(examples / "obama.jpg"),
        *data,
    )
    source = examples / "two_people.jpg"
    kept_out, all_out = tmp_path / "kept.png", tmp_path / "all.png"
    _cli("redact", str(source), str(kept_out), "--keep-purpose", "press:kept", *data)
    _cli("redact", str(source), str(all_out), *data)

    before = engine.detect(source).faces
    assert len(before) == 2
    original = decode(source)
    obama = engine.face_for(examples / "obama.jpg")
    faces = engine.analyze(source).faces
    assert obama.embedding is not None
    kept_face = max(faces, key=lambda f: f.embedding.similarity(obama.embedding))  # type: ignore[union-attr]
    other = next(f for f in faces if f is not kept_face)

    kept = decode(kept_out)
    x1, y1, x2, y2 = (int(v) for v in kept_face.box.clip(kept.shape[1], kept.shape[0]).as_list())
    assert np.array_equal(kept[y1:y2, x1:x2], original[y1:y2, x1:x2])  # unchanged, pixel for pixel
    after = engine.detect(kept).faces
    assert len(after) == 1 and after[0].box.iou(kept_face.box) > 0.8
    assert all(f.box.iou(other.box) == 0 for f in after)
    assert engine.detect(decode(all_out)).faces == []  # default: every face blurred


def test_redact_video_first_60_frames(
    frame_faces: FrameFaces, checkers: list[FaceEngine], shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "video" / "short_hamilton_clip.mp4"
    if not source.exists():
        pytest.skip(f"{source} not found")
    target = tmp_path / "redacted.mp4"
    stats = redact_video(source, target, frame_faces, max_frames=60)
    assert (
        stats.frames == 60 and stats.faces_found > 0 and stats.regions_blurred >= stats.faces_found
    )
    _check_output(checkers, target, stats.blurred, 60)


@pytest.mark.slow
def test_redact_whole_video(
    frame_faces: FrameFaces, checkers: list[FaceEngine], shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "video" / "short_hamilton_clip.mp4"
    if not source.exists():
        pytest.skip(f"{source} not found")
    target = tmp_path / "redacted.mp4"
    stats = redact_video(source, target, frame_faces)  # each frame detected once per run
    _check_output(checkers, target, stats.blurred, stats.frames)


def _frames(target: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(target))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        capture.release()


def _check_output(
    checkers: list[FaceEngine], target: Path, blurred: list[list[Box]], frames: int
) -> None:
    """The detector finds no face where a face was blurred, in any frame of ``target``: the
    frames are dealt out to the engines, each searching its share on a thread of its own."""
    pixels = list(_frames(target))
    assert len(pixels) == frames

    def search(k: int) -> list[list[Face]]:
        return [checkers[k].detect(px).faces for px in pixels[k :: len(checkers)]]

    with ThreadPoolExecutor(len(checkers)) as pool:
        shares = list(pool.map(search, range(len(checkers))))
    for read in range(frames):
        faces = shares[read % len(checkers)][read // len(checkers)]
        assert not any(_overlaps(f.box, blurred[read]) for f in faces), f"frame {read}"
