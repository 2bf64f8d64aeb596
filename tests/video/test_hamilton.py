"""Per-track identity on the Hamilton clip and tracking on the YouTube Faces clips (real data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from facegate.config import EngineConfig
from facegate.errors import ConfigError
from facegate.eval.video import load_ytf, score_clip
from facegate.gallery.service import Gallery
from facegate.pipeline.engine import FaceEngine
from facegate.types import Face, ImageArray
from facegate.video.detect import video_engine_config, video_finder
from facegate.video.events import ListSink
from facegate.video.identity import TrackIdentities
from facegate.video.search import GallerySearcher
from facegate.video.sources import FileSource, FrameFolderSource
from facegate.video.stream import StreamAnalyzer

pytestmark = pytest.mark.slow

PURPOSE = "stage"
PEOPLE = ("lin-manuel-miranda", "alex-lacamoire")
LIN, ALEX, LIN_PROFILE = "lin-manuel-miranda", "alex-lacamoire", "lin-manuel-miranda (profile)"
# shots of the clip (scene cuts at frames 20, 82 and 211) and who is where in them
STAGE_WIDE, AUDIENCE_1, STAGE_CLOSE, AUDIENCE_2 = (0, 20), (20, 82), (82, 211), (211, 275)


def who(frame: int, box: tuple[float, float, float, float]) -> str | None:
    """Who a track is, from where and when it starts (looked up frame by frame): Miranda
    singing on the right of the wide stage shot and in the close-up, Lacamoire at the piano
    on the far left of the wide shot (about 25 px), Miranda in profile filling the right of the
    first audience shot; anything else (audience, a raised hand) is nobody enrolled."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if STAGE_WIDE[0] <= frame < STAGE_WIDE[1]:
        if 480 <= centre_x <= 620 and centre_y < 150:
            return LIN
        if centre_x < 150 and 150 <= centre_y <= 260:
            return ALEX
        return None
    if STAGE_CLOSE[0] <= frame < STAGE_CLOSE[1]:
        return LIN
    if AUDIENCE_1[0] <= frame < AUDIENCE_1[1] and (box[2] >= 600 or box[3] - box[1] >= 150):
        return LIN_PROFILE
    return None


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    engine = FaceEngine()
    try:
        engine.calibration  # noqa: B018 - the shipped calibration decides "unknown"
    except ConfigError as exc:
        pytest.skip(f"no shipped calibration for the dlib pack yet: {exc}")
    return engine


@contextmanager
def enrolled(
    engine: FaceEngine, folder: Path, examples: Path
) -> Iterator[tuple[Gallery, dict[str, str]]]:
    """A gallery of the two people, enrolled from their photos with ``engine``."""
    with Gallery.open(folder, engine=engine) as gallery:
        gallery.add_purpose(PURPOSE)
        names = {}
        for person in PEOPLE:
            subject = gallery.create_subject(person)
            gallery.grant_consent(subject.id, PURPOSE, "test fixture")
            gallery.enroll(subject.id, [examples / f"{person}.png"], PURPOSE)
            names[subject.id] = person
        yield gallery, names


@pytest.fixture(scope="module")
def gallery(
    engine: FaceEngine, examples: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gallery, dict[str, str]]]:
    with enrolled(engine, tmp_path_factory.mktemp("gallery"), examples) as found:
        yield found


def named_tracks(
    engine: FaceEngine, gallery: tuple[Gallery, dict[str, str]], hamilton: Path, video: bool
) -> tuple[dict[int, str | None], dict[int, str], dict[int, str | None]]:
    """Per track: who it is, who it was named, and its decision."""
    store, names = gallery
    if video:  # as `facegate video` runs: boxes only per frame, landmarks per track
        find: Callable[[ImageArray], list[Face]] = video_finder(engine)
        identities = TrackIdentities(
            engine, GallerySearcher(store, PURPOSE), landmarks=engine.add_landmarks
        )
    else:
        find = lambda px: engine.detect(px).faces  # noqa: E731
        identities = TrackIdentities(engine, GallerySearcher(store, PURPOSE))
    analyzer = StreamAnalyzer(find, identities=identities)
    summary = analyzer.run(FileSource(hamilton))
    assert isinstance(analyzer.sink, ListSink)
    events = analyzer.sink.events
    starts = {e.track_id: who(e.frame, e.box) for e in events if e.type == "track_started"}
    named = {e.track_id: names[e.subject_id] for e in events if e.type == "identified"}
    return starts, named, summary.decisions


def check_tracks(
    starts: dict[int, str | None], named: dict[int, str], decisions: dict[int, str | None]
) -> None:
    """Every frontal track of an enrolled person named right; none named wrongly (a profile
    track may stay unknown: a frontal embedder cannot tell a face seen from the side)."""
    for track_id, person in named.items():
        assert starts[track_id] in (person, f"{person} (profile)"), (
            f"track {track_id} ({starts[track_id]}) named {person} wrongly"
        )
    frontal = {t for t, p in starts.items() if p in PEOPLE}
    assert frontal, "no track of an enrolled person at all"
    for track_id in frontal:
        decision = decisions.get(track_id, "never searched")
        assert named.get(track_id) == starts[track_id], f"track {track_id}: {decision}"


def test_hamilton_tracks_named_right_and_none_wrongly(
    engine: FaceEngine, gallery: tuple[Gallery, dict[str, str]], hamilton: Path
) -> None:
    check_tracks(*named_tracks(engine, gallery, hamilton, video=False))


def test_hamilton_on_the_video_path_names_both_people(
    engine: FaceEngine, examples: Path, hamilton: Path, tmp_path: Path
) -> None:
    """`facegate video`'s own settings (libfacedetection where installed, upsample 0, 480 px copy),
    the two people enrolled with the same detector: Lacamoire at the piano, 25 px tall, has a
    track and is named too (at 0.917 against the 0.912 of fpir=1e-2 for two subjects: a thin
    margin, stated in docs/BENCHMARKS.md; enrolled from HOG's boxes he stays unknown)."""
    config = video_engine_config(EngineConfig())
    fast = FaceEngine(config, home=engine.home, calibration=engine.calibration)
    with enrolled(fast, tmp_path, examples) as gallery:
        starts, named, decisions = named_tracks(fast, gallery, hamilton, video=True)
    check_tracks(starts, named, decisions)
    if config.detector == "libfacedetection":
        assert ALEX in named.values() and LIN in named.values()


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
