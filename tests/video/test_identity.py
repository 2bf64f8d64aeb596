from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facegate.types import BBox, Embedding, Face, ImageArray, OperatingPoint
from facegate.video.identity import (
    IdentityPolicy,
    Match,
    SearchResult,
    TrackIdentities,
    aggregate,
)

POINT = OperatingPoint("fpir=0.01", 0.9)
PIXELS = np.zeros((10, 10, 3), np.uint8)


class FakeEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        self.calls += 1
        vec = np.ones(4, np.float32)
        return [
            Face(f.box, f.score, embedding=Embedding.from_raw(vec, "t"), quality=f.quality)
            for f in faces
        ]


class FakeSearcher:
    def __init__(self, answers: list[list[Match]]) -> None:
        self.answers = answers
        self.calls = 0

    def search(self, faces: Sequence[Face]) -> list[SearchResult]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [SearchResult(answer, POINT) for _ in faces]


def shot(quality: float) -> Face:
    return Face(BBox(0, 0, 5, 5), 1.0, quality=quality)


def test_searched_once_then_again_only_for_a_clearly_better_shot() -> None:
    embedder = FakeEmbedder()
    searcher = FakeSearcher([[Match("ann", 0.95)]])
    ids = TrackIdentities(embedder, searcher, IdentityPolicy(min_quality=40, improvement=10))
    assert ids.observe(1, PIXELS, shot(20)) is None  # not good enough yet
    first = ids.observe(1, PIXELS, shot(50))
    assert first is not None and first.subject_id == "ann" and first.operating_point == POINT
    for q in (45, 55, 59):  # not clearly better
        assert ids.observe(1, PIXELS, shot(q)) is None
    assert searcher.calls == 1
    assert ids.observe(1, PIXELS, shot(61)) is None  # searched again; same decision
    assert searcher.calls == 2 and embedder.calls == 2
    assert ids.decision(1) is not None and ids.decision(1).shots == 2  # type: ignore[union-attr]


def test_patience_searches_the_best_poor_shot() -> None:
    searcher = FakeSearcher([[Match("ann", 0.5)]])
    ids = TrackIdentities(FakeEmbedder(), searcher, IdentityPolicy(min_quality=90, patience=3))
    assert ids.observe(7, PIXELS, shot(10)) is None
    assert ids.observe(7, PIXELS, shot(30)) is None
    decision = ids.observe(7, PIXELS, shot(20))
    assert decision is not None and decision.subject_id is None  # 0.5 < 0.9: unknown
    assert decision.best_quality == 30


def test_decision_is_the_mean_over_best_shots_not_a_vote() -> None:
    shots = [
        (80.0, SearchResult([Match("ann", 0.95)], POINT)),
        (70.0, SearchResult([Match("bob", 0.91)], POINT)),
        (60.0, SearchResult([Match("ann", 0.93)], POINT)),
    ]
    decision = aggregate(3, shots, 80.0)
    # two of three shots say ann, but her mean (bob's shot counts 0 for her) is below 0.9
    assert decision.subject_id is None
    assert abs(decision.score - (0.95 + 0.93) / 3) < 1e-9
    steady = [shots[0], shots[2], (50.0, SearchResult([Match("ann", 0.90)], POINT))]
    agreed = aggregate(3, steady, 80.0)
    assert agreed.subject_id == "ann" and abs(agreed.score - (0.95 + 0.93 + 0.90) / 3) < 1e-9


def test_a_changed_decision_is_reported_and_forget_drops_the_track() -> None:
    searcher = FakeSearcher([[], [Match("ann", 0.99)]])
    ids = TrackIdentities(FakeEmbedder(), searcher, IdentityPolicy(keep_shots=1, rescore_every=1))
    unknown = ids.observe(2, PIXELS, shot(50))
    assert unknown is not None and unknown.subject_id is None
    known = ids.observe(2, PIXELS, shot(70))
    assert known is not None and known.subject_id == "ann"
    assert ids.forget(2) is known and ids.decision(2) is None


def test_landmarks_are_added_only_while_a_track_may_be_searched() -> None:
    added: list[int] = []

    def landmarks(pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        added.append(len(faces))
        return [Face(f.box, f.score, quality=50.0) for f in faces]  # as if scored

    searcher = FakeSearcher([[Match("ann", 0.95)]])
    policy = IdentityPolicy(max_searches=1)
    ids = TrackIdentities(FakeEmbedder(), searcher, policy, landmarks=landmarks)
    bare = Face(BBox(0, 0, 5, 5), 1.0)
    first = ids.observe(1, PIXELS, bare)
    assert first is not None and first.subject_id == "ann" and added == [1]
    for _ in range(5):  # searched its one time: later detections cost nothing
        assert ids.observe(1, PIXELS, bare) is None
    assert added == [1] and searcher.calls == 1


def test_after_its_first_search_a_track_is_rescored_on_every_nth_detection() -> None:
    searcher = FakeSearcher([[Match("ann", 0.95)]])
    ids = TrackIdentities(FakeEmbedder(), searcher, IdentityPolicy(rescore_every=3))
    assert ids.observe(1, PIXELS, shot(50)) is not None  # first search at once
    ids.observe(1, PIXELS, shot(90))  # detection 2: not looked at
    assert searcher.calls == 1
    ids.observe(1, PIXELS, shot(90))  # detection 3: scored, clearly better: searched again
    assert searcher.calls == 2
