from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np

from facegate.types import BBox, Face, ImageArray
from facegate.video.events import JsonLinesSink, ListSink
from facegate.video.identity import IdentityPolicy, Match, TrackIdentities
from facegate.video.sources import Frame, SourceStats
from facegate.video.stream import StreamAnalyzer

from .test_identity import FakeEmbedder, FakeSearcher


class ScriptedSource:
    """Frames whose faces are scripted: frame i has a face at x = 10 + 3 i, or none."""

    live = False
    fps = 30.0
    name = "scripted"

    def __init__(self, count: int, missing: set[int], cut_at: int | None = None) -> None:
        self.count = count
        self.missing = missing
        self.cut_at = cut_at
        self.stats = SourceStats()

    def frames(self) -> Iterator[Frame]:
        for i in range(self.count):
            shade = 200 if self.cut_at is not None and i >= self.cut_at else 20
            pixels = np.full((120, 200, 3), shade, np.uint8)
            self.stats.read += 1
            yield Frame(i, i / self.fps, pixels)

    def close(self) -> None:
        return None

    def find(self, pixels: ImageArray, index: list[int]) -> list[Face]:
        i = index[0]
        index[0] += 1
        if i in self.missing:
            return []
        return [Face(BBox(10 + 3 * i, 20, 50 + 3 * i, 60), 1.0, quality=60.0)]


def analyzer_for(
    source: ScriptedSource, answer: list[Match] | None = None, **kwargs: object
) -> StreamAnalyzer:
    counter = [0]
    found = [Match("subj-1", 0.97)] if answer is None else answer
    identities = TrackIdentities(FakeEmbedder(), FakeSearcher([found]), IdentityPolicy())
    return StreamAnalyzer(
        lambda px: source.find(px, counter),
        identities=identities,
        sink=ListSink(),
        stream_id="s1",
        **kwargs,  # type: ignore[arg-type]
    )


def test_one_track_identified_once_through_missed_frames() -> None:
    source = ScriptedSource(30, missing={10, 11, 12})
    analyzer = analyzer_for(source)
    summary = analyzer.run(source)
    events = analyzer.sink.events  # type: ignore[attr-defined]
    assert [e.type for e in events] == ["track_started", "identified", "track_left"]
    assert events[1].subject_id == "subj-1" and events[1].operating_point == "fpir=0.01"
    assert [e.seq for e in events] == [1, 2, 3]
    assert {e.track_id for e in events} == {events[0].track_id}
    assert summary.frames == 30 and summary.tracks == 1 and summary.searches == 3  # 3 shots
    assert summary.decisions == {events[0].track_id: "subj-1"}


def test_watchlist_decisions_are_hits_to_confirm() -> None:
    source = ScriptedSource(10, missing=set())
    analyzer = analyzer_for(source, watchlist=True)
    analyzer.run(source)
    kinds = [e.type for e in analyzer.sink.events]  # type: ignore[attr-defined]
    assert kinds == ["track_started", "identified", "watchlist_hit", "track_left"]
    hit = analyzer.sink.events[2]  # type: ignore[attr-defined]
    assert hit.candidate_id == "subj-1" and hit.subject_id is None


def test_a_scene_cut_ends_every_track() -> None:
    source = ScriptedSource(20, missing=set(), cut_at=10)
    analyzer = analyzer_for(source)
    analyzer.run(source)
    events = analyzer.sink.events  # type: ignore[attr-defined]
    kinds = [e.type for e in events]
    assert kinds.count("track_started") == 2 and kinds.count("track_left") == 2
    left = next(e for e in events if e.type == "track_left")
    assert left.frame == 10


def test_detect_every_n_frames_holds_boxes_between() -> None:
    source = ScriptedSource(12, missing=set())
    analyzer = analyzer_for(source, detect_every=3)
    seen: list[tuple[int, bool, int]] = []
    analyzer.run(source, on_frame=lambda f, r: seen.append((f.index, r.detected, len(r.tracks))))
    assert [d for _, d, _ in seen] == [i % 3 == 0 for i in range(12)]
    assert all(n == 1 for i, _, n in seen if i >= 3)


def test_a_track_with_no_candidate_is_unknown_without_a_score() -> None:
    """The events, and the JSON lines `facegate video --json` prints, carry no score where the
    search gave no candidate to score (not a score of 0)."""
    source = ScriptedSource(10, missing=set())
    analyzer = analyzer_for(source, answer=[])
    analyzer.run(source)
    events = analyzer.sink.events  # type: ignore[attr-defined]
    assert [e.type for e in events] == ["track_started", "unknown", "track_left"]
    unknown = events[1]
    assert unknown.score is None and unknown.operating_point == "fpir=0.01"
    out = io.StringIO()
    JsonLinesSink(out).emit(unknown)
    line = json.loads(out.getvalue())
    assert line["type"] == "unknown" and "score" not in line
    assert line["operating_point"] == "fpir=0.01"
