from __future__ import annotations

from facegate.types import BBox, Face
from facegate.video.tracker import IouTracker, match_by_iou


def face(x: float, y: float, size: float = 40.0) -> Face:
    return Face(BBox(x, y, x + size, y + size), 1.0)


def test_a_moving_face_keeps_one_track() -> None:
    tracker = IouTracker()
    ids = set()
    started: list[int] = []
    for i in range(30):
        update = tracker.update([face(10 + 4 * i, 50)], i / 30)
        started += update.started
        ids |= {t.track_id for t in update.tracks}
    assert len(ids) == 1 and started == list(ids)
    assert tracker.finish() == list(ids)


def test_a_single_false_positive_never_becomes_a_track() -> None:
    tracker = IouTracker(min_hits=2)
    first = tracker.update([face(10, 10), face(200, 200)], 0.0)
    assert first.started == [] and not any(t.confirmed for t in first.tracks)
    second = tracker.update([face(11, 10)], 1 / 30)
    assert len(second.started) == 1
    assert [t.box.x1 for t in second.tracks] == [11]  # the lone detection was dropped


def test_a_missed_frame_is_covered_by_the_prediction() -> None:
    tracker = IouTracker()
    for i in range(5):
        tracker.update([face(10 + 5 * i, 50)], i / 30)
    gap = tracker.update([], 5 / 30)
    assert len(gap.tracks) == 1 and gap.tracks[0].predicted
    assert 30 < gap.tracks[0].box.x1 < 40  # moved on with the face's velocity
    back = tracker.update([face(40, 50)], 6 / 30)
    assert back.tracks[0].track_id == gap.tracks[0].track_id and not back.started


def test_a_track_ends_after_max_missed_frames_or_max_age() -> None:
    tracker = IouTracker(max_missed=3, max_age_s=10.0)
    for i in range(3):
        tracker.update([face(10, 10)], i)
    ended = [tracker.update([], 3 + k).ended for k in range(4)]
    assert ended[:3] == [[], [], []] and len(ended[3]) == 1
    tracker = IouTracker(max_age_s=0.5)
    tracker.update([face(10, 10)], 0.0)
    tracker.update([face(10, 10)], 0.03)
    later = tracker.update([face(10, 10)], 2.0)  # a gap in the stream: a new track
    assert len(later.ended) == 1 and later.started == []
    assert later.tracks[0].track_id != later.ended[0]


def test_two_faces_two_tracks_and_hold() -> None:
    tracker = IouTracker()
    for i in range(3):
        update = tracker.update([face(10 + i, 10), face(300 - i, 10)], i / 30)
    assert len({t.track_id for t in update.tracks}) == 2
    held = tracker.hold()
    assert [t.box for t in held.tracks] == [t.box for t in update.tracks]
    assert all(t.predicted for t in held.tracks)


def test_matching_takes_the_best_pairs_once() -> None:
    a, b = BBox(0, 0, 10, 10), BBox(5, 0, 15, 10)
    assert match_by_iou([a, b], [b, a], 0.1) == [(0, 1), (1, 0)]
    assert match_by_iou([a], [BBox(50, 50, 60, 60)], 0.1) == []


def test_a_lost_track_is_shown_for_max_held_misses_but_matched_for_max_missed() -> None:
    tracker = IouTracker(max_held=2, max_missed=6, max_age_s=10.0)
    for i in range(3):
        tracker.update([face(10, 10)], i / 30)
    shown = [len(tracker.update([], (3 + k) / 30).tracks) for k in range(4)]
    assert shown == [1, 1, 0, 0] and tracker.hold().tracks == []
    back = tracker.update([face(10, 10)], 7 / 30)
    assert len(back.tracks) == 1 and back.started == []  # the same track again
