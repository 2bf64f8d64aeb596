"""The gallery on the real engine and real photos: knn_examples, LFW strangers, restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.gallery.service import Gallery
from facegate.pipeline.engine import FaceEngine

pytestmark = pytest.mark.slow

PURPOSE = "door"
EXPECTED = {
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "obama1.jpg": ["obama"],
    "obama_and_biden.jpg": ["biden", "obama", None],  # a third, unenrolled person
}
STRANGERS = [
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "Aaron_Sorkin/Aaron_Sorkin_0001.jpg",
    "Abbas_Kiarostami/Abbas_Kiarostami_0001.jpg",
]


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine()  # the shipped dlib calibration decides "unknown"


@pytest.fixture(scope="module")
def enrolled(
    engine: FaceEngine, examples: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("gallery")
    with Gallery.open(data, engine=engine) as gallery:
        gallery.add_purpose(PURPOSE)
        for folder in sorted((examples / "knn_examples" / "train").iterdir()):
            subject = gallery.create_subject(folder.name)
            gallery.grant_consent(subject.id, PURPOSE, "test fixture")
            gallery.enroll(subject.id, sorted(folder.iterdir()), PURPOSE)
    yield data


def _names(gallery: Gallery, image: Path) -> list[str | None]:
    faces = gallery.identify(image, PURPOSE).faces
    return sorted(
        (f.match.subject.display_name if f.match else None for f in faces),
        key=lambda n: (n is None, n or ""),
    )


def test_knn_examples_and_strangers(
    enrolled: Path, engine: FaceEngine, examples: Path, lfw: Path
) -> None:
    with Gallery.open(enrolled, engine=engine) as gallery:
        for name, expected in EXPECTED.items():
            assert _names(gallery, examples / "knn_examples" / "test" / name) == expected, name
        for stranger in STRANGERS:
            assert _names(gallery, lfw / stranger) == [None], stranger


def test_same_answers_after_restart_and_revocation(
    enrolled: Path, engine: FaceEngine, examples: Path
) -> None:
    probe = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    with Gallery.open(enrolled, engine=engine) as gallery:
        before = gallery.identify(probe, PURPOSE).to_dict()
    with Gallery.open(enrolled, engine=engine) as gallery:
        assert gallery.identify(probe, PURPOSE).to_dict() == before
        obama = gallery.subject("obama")
        gallery.revoke_consent(obama.id, PURPOSE)
        assert _names(gallery, probe) == ["biden", None, None]
        gallery.grant_consent(obama.id, PURPOSE, "asked again")
        assert _names(gallery, probe) == ["biden", "obama", None]
