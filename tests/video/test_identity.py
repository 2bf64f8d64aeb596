from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from facegate.types import BBox, Embedding, Face, ImageArray, OperatingPoint
from facegate.video.identity import (
    IdentityPolicy,
    Match,
    SearchResult,
    TrackIdentities,
    decide,
    track_template,
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
    policy = IdentityPolicy(min_quality=40, improvement=10, keep_shots=2, min_shots=1)
    ids = TrackIdentities(embedder, searcher, policy)
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


def unit(*values: float) -> Embedding:
    return Embedding.from_raw(np.array(values, np.float32), "t")


def test_track_score_is_the_quality_weighted_mean_of_the_shots_similarities() -> None:
    ann = unit(1, 0, 0)
    shots = [(80.0, unit(0.95, 0.3122, 0)), (20.0, unit(0.6, 0, 0.8))]
    template = track_template(shots)
    assert abs(float(np.linalg.norm(template.embedding.vector)) - 1) < 1e-6
    similarity = template.embedding.similarity(ann)  # what a gallery search returns
    decision = decide(4, SearchResult([Match("ann", similarity)], POINT), template, 2, 80.0)
    expected = (80 * shots[0][1].similarity(ann) + 20 * shots[1][1].similarity(ann)) / 100
    assert abs(decision.score - expected) < 1e-6 and decision.score < POINT.threshold
    assert decision.subject_id is None and decision.shots == 2  # 0.88: unknown
    alone = track_template(shots[:1])
    named = decide(4, SearchResult([Match("ann", alone.embedding.similarity(ann))], POINT),
                   alone, 1, 80.0)  # fmt: skip
    assert named.subject_id == "ann" and abs(named.score - 0.95) < 1e-3


def test_a_template_never_mixes_packs_and_needs_a_shot() -> None:
    with pytest.raises(ValueError, match="packs"):
        track_template([(50.0, unit(1, 0)), (50.0, Embedding.from_raw(np.ones(2), "other"))])
    with pytest.raises(ValueError, match="at least one"):
        track_template([])


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError):
        IdentityPolicy(min_shots=4, keep_shots=3)
    with pytest.raises(ValueError):
        IdentityPolicy(keep_shots=3, max_searches=2)


class VectorEmbedder:
    """Gives the n-th embedded shot the n-th vector."""

    def __init__(self, vectors: list[Embedding]) -> None:
        self.vectors = vectors
        self.calls = 0

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        out = [Face(f.box, f.score, embedding=self.vectors[self.calls]) for f in faces]
        self.calls += 1
        return out


class OneSubjectGallery:
    """Searches one enrolled template as a gallery does: the subject when over the threshold."""

    def __init__(self, template: Embedding) -> None:
        self.template = template
        self.calls = 0

    def search(self, faces: Sequence[Face]) -> list[SearchResult]:
        self.calls += 1
        out = []
        for face in faces:
            assert face.embedding is not None
            sim = face.embedding.similarity(self.template)
            out.append(SearchResult([Match("ann", sim)] if sim >= POINT.threshold else [], POINT))
        return out


def test_a_track_is_named_only_once_its_template_holds_min_shots() -> None:
    searcher = FakeSearcher([[Match("ann", 0.95)]])
    ids = TrackIdentities(FakeEmbedder(), searcher, IdentityPolicy(fill_every=6, min_shots=3))
    decisions = [ids.observe(1, PIXELS, shot(50)) for _ in range(14)]
    assert searcher.calls == 2  # at detections 1 and 9 (6 after, on every 3rd)
    assert decisions == [None] * 14 and ids.decision(1) is None  # over 0.9, yet undecided
    named = ids.observe(1, PIXELS, shot(50))  # detection 15: the third shot
    assert searcher.calls == 3
    assert named is not None and named.subject_id == "ann" and named.shots == 3


def test_one_shot_over_the_threshold_does_not_name_a_track_whose_other_shots_disagree() -> None:
    ann = unit(1, 0)
    near, far = unit(0.95, 0.3122), unit(0.8, 0.6)
    searcher = OneSubjectGallery(ann)
    ids = TrackIdentities(VectorEmbedder([near, far, far]), searcher, IdentityPolicy(fill_every=3))
    decisions = [ids.observe(1, PIXELS, shot(50)) for _ in range(12)]
    assert searcher.calls == 3
    made = [d for d in decisions if d is not None]
    assert [d.subject_id for d in made] == [None]  # one "unknown", never "ann"
    assert made[0].score is None  # the gallery gave no candidate at 0.85 < 0.9: no score


class NothingEmbedded:
    """An embedder that finds nothing to embed in the shot (e.g. landmarks off the chip)."""

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        return list(faces)


def test_unknown_without_a_candidate_or_an_embedded_shot_has_no_score() -> None:
    template = track_template([(50.0, unit(1, 0))])
    assert decide(1, SearchResult([], POINT), template, 1, 50.0).score is None
    low = decide(1, SearchResult([Match("ann", 0.5)], POINT), template, 1, 50.0)
    assert low.subject_id is None and low.score == pytest.approx(0.5)  # a real low score
    searcher = FakeSearcher([[Match("ann", 0.95)]])
    ids = TrackIdentities(NothingEmbedded(), searcher, IdentityPolicy(keep_shots=1, min_shots=1))
    decision = ids.observe(1, PIXELS, shot(50))
    assert decision is not None and decision.subject_id is None and decision.score is None
    assert searcher.calls == 0 and decision.shots == 0  # nothing embedded: nothing searched


def test_a_changed_decision_is_reported_and_forget_drops_the_track() -> None:
    searcher = FakeSearcher([[], [Match("ann", 0.99)]])
    policy = IdentityPolicy(keep_shots=1, min_shots=1, rescore_every=1)
    ids = TrackIdentities(FakeEmbedder(), searcher, policy)
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
    policy = IdentityPolicy(max_searches=1, keep_shots=1, min_shots=1)
    ids = TrackIdentities(FakeEmbedder(), searcher, policy, landmarks=landmarks)
    bare = Face(BBox(0, 0, 5, 5), 1.0)
    first = ids.observe(1, PIXELS, bare)
    assert first is not None and first.subject_id == "ann" and added == [1]
    for _ in range(5):  # searched its one time: later detections cost nothing
        assert ids.observe(1, PIXELS, bare) is None
    assert added == [1] and searcher.calls == 1


def test_after_its_first_search_a_track_is_rescored_on_every_nth_detection() -> None:
    searcher = FakeSearcher([[Match("ann", 0.95)]])
    policy = IdentityPolicy(rescore_every=3, keep_shots=1, min_shots=1)
    ids = TrackIdentities(FakeEmbedder(), searcher, policy)
    assert ids.observe(1, PIXELS, shot(50)) is not None  # first search at once
    ids.observe(1, PIXELS, shot(90))  # detection 2: not looked at
    assert searcher.calls == 1
    ids.observe(1, PIXELS, shot(90))  # detection 3: scored, clearly better: searched again
    assert searcher.calls == 2
