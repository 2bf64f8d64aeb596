"""Several packs in one gallery: enrolment writes every enabled pack's template at once,
searches compare only templates of the active pack, and switching needs no new photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import FakeEngine, face_image, person_vector

from facegate.errors import EnrollmentError, StoreError
from facegate.gallery.packs import OtherPacks
from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource, decode
from facegate.types import BBox, Embedding, Face

OTHER = "other-v1"


class OtherEngine(FakeEngine):
    """A second pack: its own embedding space (another direction per person, 64-d)."""

    def __init__(self, fail_for: int | None = None) -> None:
        super().__init__()
        self.fail_for = fail_for
        self.embedded = 0

    @property
    def pack_id(self) -> str:
        return OTHER

    @staticmethod
    def vector(person: int, variant: int) -> np.ndarray:
        return person_vector(90_000 + person, variant)[:64] / np.linalg.norm(
            person_vector(90_000 + person, variant)[:64]
        )

    def analyze(self, image: ImageSource):  # type: ignore[no-untyped-def]
        result = super().analyze(image)
        faces = [self.embed_at(image, f.box, f.score) for f in result.faces]
        return type(result)(result.width, result.height, faces)

    def embed_at(self, image: ImageSource, box: BBox, score: float = 0.0) -> Face:
        self.embedded += 1
        px = decode(image)
        person, variant = int(px[0, 0, 1]) + 256 * int(px[0, 1, 1]), int(px[0, 0, 2])
        if person == self.fail_for:
            return Face(box=box, score=score)  # no landmarks, no embedding
        emb = Embedding(self.vector(person, variant).astype(np.float32), OTHER)
        return Face(box=box, score=score, embedding=emb, quality=50.0)


def _gallery(path: Path, active: FakeEngine, other: FakeEngine | None) -> Gallery:
    gallery = Gallery.open(path, engine=active)
    if other is not None:
        gallery.other_packs = OtherPacks(["other"], build=lambda name: other)  # type: ignore[arg-type,return-value]
    return gallery


def _enrol(gallery: Gallery, people: range) -> list[str]:
    gallery.add_purpose("door")
    ids = []
    for person in people:
        subject = gallery.create_subject(f"person {person}")
        gallery.grant_consent(subject.id, "door", "form")
        result = gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], "door")
        ids.append(subject.id)
        assert len(result.added) == 2
        assert all(t.pack == "fake-v1" for t in result.added)
    return ids


def test_enrolment_writes_every_enabled_pack_and_switching_needs_no_photos(tmp_path: Path) -> None:
    other = OtherEngine()
    with _gallery(tmp_path, FakeEngine(), other) as gallery:
        ids = _enrol(gallery, range(6))
        packs = sorted(t.pack for t in gallery.templates(ids[2]))
        assert packs == ["fake-v1", "fake-v1", OTHER, OTHER]
        assert other.embedded == 12
        again = gallery.enroll(ids[2], [face_image(2, 0)], "door")  # nothing new for any pack
        assert again.added == [] and again.other_packs == {}
        match = gallery.identify(face_image(2, 7), "door").faces[0].match
        assert match is not None and match.subject.id == ids[2]
    # Switch the active pack: the same subjects, found with the other pack's templates.
    with _gallery(tmp_path, OtherEngine(), None) as switched:
        found = switched.identify(face_image(4, 8), "door")
        assert found.gallery_size == 6
        assert found.faces[0].match is not None and found.faces[0].match.subject.id == ids[4]
        assert all(c.similarity < 0.99 for c in found.faces[0].candidates)
        assert switched.verify(face_image(4, 9), ids[4], "door").match


def test_searches_never_mix_packs(tmp_path: Path) -> None:
    with _gallery(tmp_path, FakeEngine(), None) as gallery:
        ids = _enrol(gallery, range(3))  # only the fake pack
    with _gallery(tmp_path, OtherEngine(), None) as other:
        result = other.identify(face_image(1, 3), "door")
        assert result.gallery_size == 0 and result.faces[0].candidates == []
        with pytest.raises(StoreError, match=f"no templates of pack {OTHER}"):
            other.verify(face_image(1, 3), ids[1], "door")


def test_an_image_another_pack_cannot_embed_fails_whole(tmp_path: Path) -> None:
    with _gallery(tmp_path, FakeEngine(), OtherEngine(fail_for=5)) as gallery:
        gallery.add_purpose("door")
        subject = gallery.create_subject("person 5")
        gallery.grant_consent(subject.id, "door", "form")
        with pytest.raises(EnrollmentError, match=f"pack {OTHER} could not align"):
            gallery.enroll(subject.id, [face_image(5, 0)], "door")
        assert gallery.templates(subject.id) == []


def test_the_active_pack_is_left_out_of_the_other_packs() -> None:
    engine = OtherEngine()
    packs = OtherPacks(["a", "b"], build=lambda name: engine)  # type: ignore[arg-type,return-value]
    assert packs.engines(OTHER) == []
    assert packs.engines("fake-v1") == [engine, engine]


def test_enabled_packs_come_from_the_settings(tmp_path: Path) -> None:
    from facegate.config import GalleryConfig
    from facegate.errors import ConfigError

    config = GalleryConfig(enabled_packs=["dlib", "no-such-pack"])
    with Gallery.open(tmp_path, engine=FakeEngine(), config=config) as gallery:
        assert gallery.other_packs.names == ["dlib", "no-such-pack"]
        with pytest.raises(ConfigError, match="unknown model pack 'no-such-pack'"):
            gallery.other_packs.engines("fake-v1")
