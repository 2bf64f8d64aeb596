from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facegate.errors import StreamNotFoundError, WatchlistError
from facegate.store.protocol import Purpose
from facegate.video.events import Event
from facegate.video.watchlist import WatchlistHits, require_realtime_allowed, use_record

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def hit_event(seq: int, candidate: str = "subj-9") -> Event:
    return Event("watchlist_hit", "st_1", seq, 4, 80, 2.7, None, None, 0.97, "fpir=0.01", candidate)


def test_only_a_watchlist_purpose_is_searched_in_real_time() -> None:
    door = Purpose("door", "", NOW)
    listed = Purpose("listed", "", NOW, watchlist=True)
    with pytest.raises(WatchlistError, match="not a watchlist"):
        require_realtime_allowed(door, live=True)
    require_realtime_allowed(door, live=False)  # a recorded file, searched after the fact
    require_realtime_allowed(listed, live=True)


def test_a_hit_is_a_candidate_until_two_different_people_confirm() -> None:
    hits = WatchlistHits()
    hits.emit(hit_event(7))
    hits.emit(Event("identified", "st_1", 8, 4, 80, 2.7))  # not a hit: ignored
    assert [h.seq for h in hits.list()] == [7]
    first = hits.confirm(7, "key_ann")
    assert not first.confirmed and first.to_dict()["status"] == "candidate"
    with pytest.raises(WatchlistError, match="different person"):
        hits.confirm(7, "key_ann")
    second = hits.confirm(7, "key_bob")
    assert second.confirmed and second.to_dict()["status"] == "confirmed"
    with pytest.raises(StreamNotFoundError):
        hits.confirm(99, "key_bob")


def test_each_use_is_logged_with_period_gallery_input_and_confirmers() -> None:
    hits = WatchlistHits()
    hits.emit(hit_event(1))
    hits.confirm(1, "key_ann")
    hits.confirm(1, "key_bob")
    event = use_record("listed", 12, "dlib-resnet-v1", "cam-3", NOW, NOW, hits)
    assert event.operation == "watchlist.use" and event.purpose == "listed"
    assert list(event.subject_ids) == ["subj-9"]
    assert event.decision == (
        "2026-12-01T12:00:00Z/2026-12-01T12:00:00Z gallery listed:12:dlib-resnet-v1 "
        "input cam-3 hits 1/1 by key_ann,key_bob"
    )
    assert len(event.decision) <= 128
