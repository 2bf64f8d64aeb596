"""dlib's HOG detector used from several threads at once gives what it gives on one thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.models.dlib_runtime import DlibHogDetector
from facegate.types import ImageArray

pytest.importorskip("dlib")


def _frames(clip: Path, count: int) -> list[ImageArray]:
    cap = cv2.VideoCapture(str(clip))
    frames: list[ImageArray] = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(frame[:, :, ::-1]))
    cap.release()
    return frames


def test_hog_from_two_threads_matches_one_thread(shared_data: Path) -> None:
    # One shared dlib object_detector mixed the two threads' images up: 17 of 180 Hamilton
    # frames came back with other boxes (or none) before each thread had its own.
    frames = _frames(shared_data / "video" / "short_hamilton_clip.mp4", 30)
    assert len(frames) == 30
    detector = DlibHogDetector(upsample=1)
    alone = [detector.detect(f) for f in frames]
    assert sum(len(found) for found in alone) >= 15  # the clip's first shot has faces to find
    for _ in range(2):
        with ThreadPoolExecutor(max_workers=2) as pool:
            together = list(pool.map(detector.detect, frames))
        assert together == alone
