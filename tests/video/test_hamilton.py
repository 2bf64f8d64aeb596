"""Per-track identity on the Hamilton clip and tracking on the YouTube Faces clips (real data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.errors import ConfigError
from facegate.eval.video import load_ytf, score_clip
from facegate.gallery.service import Gallery
from facegate.pipeline.engine import FaceEngine
from facegate.video.events import ListSink
from facegate.video.identity import TrackIdentities
from facegate.video.search import GallerySearcher
from facegate.video.sources import FileSource, FrameFolderSource
from facegate.video.stream import StreamAnalyzer

pytestmark = pytest.mark.slow

PURPOSE = "stage"
PEOPLE = ("lin-manuel-miranda", "alex-lacamoire")
# shots of the clip (scene cuts at frames 20, 82 and 211) and who is where in them
STAGE_WIDE, AUDIENCE_1, STAGE_CLOSE, AUDIENCE_2 = (0, 20), (20, 82), (82, 211), (211, 275)


def who(frame: int, box: tuple[float, float, float, float]) -> str | None:
    """The enrolled person a track is, from where and when it starts (None: not enrolled)."""
    centre_x = (box[0] + box[2]) / 2
    if STAGE_WIDE[0] <= frame < STAGE_WIDE[1]:
        return "lin-manuel-miranda" if centre_x > 300 else "alex-lacamoire"
    if STAGE_CLOSE[0] <= frame < STAGE_CLOSE[1]:
        return "lin-manuel-miranda"
    if AUDIENCE_1[0] <= frame < AUDIENCE_1[1] and centre_x > 450:
        return "lin-manuel-miranda"  # in profile, in the foreground
    return None


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    engine = FaceEngine()
    try:
        engine.calibration  # noqa: B018 - the shipped calibration decides "unknown"
    except ConfigError as exc:
        pytest.skip(f"no shipped calibration for the dlib pack yet: {exc}")
    return engine


@pytest.fixture(scope="module")
def gallery(
    engine: FaceEngine, examples: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gallery, dict[str, str]]]:
    with Gallery.open(tmp_path_factory.mktemp("gallery"), engine=engine) as gallery:
        gallery.add_purpose(PURPOSE)
        names = {}
        for person in PEOPLE:
            subject = gallery.create_subject(person)
            gallery.grant_consent(subject.id, PURPOSE, "test fixture")
            gallery.enroll(subject.id, [examples / f"{person}.png"], PURPOSE)
            names[subject.id] = person
        yield gallery, names


def test_hamilton_tracks_named_right_and_none_wrongly(
    engine: FaceEngine, gallery: tuple[Gallery, dict[str, str]], hamilton: Path
) -> None:
    store, names = gallery
    identities = TrackIdentities(engine, GallerySearcher(store, PURPOSE))
    analyzer = StreamAnalyzer(lambda px: engine.detect(px).faces, identities=identities)
    summary = analyzer.run(FileSource(hamilton))
    events = analyzer.sink.events  # type: ignore[attr-defined]
    starts = {e.track_id: who(e.frame, e.box) for e in events if e.type == "track_started"}
    named = {e.track_id: names[e.subject_id] for e in events if e.type == "identified"}
    for track_id, person in named.items():
        assert starts[track_id] == person, f"track {track_id} named {person} wrongly"
    enrolled_tracks = {t for t, p in starts.items() if p is not None}
    assert enrolled_tracks, "no track of an enrolled person at all"
    for track_id in enrolled_tracks:
        decision = summary.decisions.get(track_id, "never searched")
        assert named.get(track_id) == starts[track_id], f"track {track_id}: {decision}"
    assert all(e.type != "identified" for e in events if starts.get(e.track_id) is None)
    assert isinstance(analyzer.sink, ListSink)


def test_ytf_clip_is_one_track(engine: FaceEngine, ytf: Path) -> None:
    frames = load_ytf(ytf)["Albert_Brooks0"]
    analyzer = StreamAnalyzer(lambda px: engine.detect(px).faces)
    outputs = []
    source = FrameFolderSource(ytf / "Albert_Brooks" / "0", fps=30.0)
    analyzer.run(
        source, on_frame=lambda f, r: outputs.append([(t.box, t.track_id) for t in r.tracks])
    )
    counts = score_clip("Albert_Brooks0", [f.box for f in frames], outputs)
    assert counts.frames == 217
    assert counts.recall >= 0.97
    assert counts.id_switches == 0 and len(counts.tracks) == 1
    assert counts.fp_per_frame <= 0.1
