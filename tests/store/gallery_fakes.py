"""A fake face engine for gallery tests, and a bulk-enrolment script for the crash test.

Images are small arrays whose first pixels encode what the fake "sees": pixel (0, 0) holds
the number of faces, the person id and a variant; pixel (0, 1) the face size in pixels. Each
person has a fixed random 128-d direction; each variant adds a little noise to it, so images
of one person score about 0.95 with each other and about 0 with anyone else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegate.config import ImageLimits
from facegate.imageio import ImageSource, decode
from facegate.pipeline.calibration import Calibration
from facegate.types import BBox, DetectResult, Embedding, Face, FloatArray, ImageArray

if TYPE_CHECKING:
    from facegate.gallery.service import Gallery

PACK = "fake-v1"
CALIBRATION = Calibration(
    pack="fake",
    fmr_table=((1e-1, 0.30), (1e-2, 0.40), (1e-3, 0.50), (1e-4, 0.60), (1e-5, 0.70), (1e-6, 0.75)),
    impostor_scores=1_000_000,
    source="synthetic, for tests",
)


def person_vector(person: int, variant: int = 0) -> FloatArray:
    base = np.random.default_rng(person).standard_normal(128)
    base /= np.linalg.norm(base)
    noise = np.random.default_rng(10_000 + 7919 * person + variant).standard_normal(128)
    vec = base + 0.3 * noise / np.linalg.norm(noise)
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def face_image(person: int, variant: int = 0, faces: int = 1, size: int = 120) -> ImageArray:
    """An image the fake engine reads as ``faces`` faces of ``person`` (then person+1...)."""
    rng = np.random.default_rng(person * 1000 + variant)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    img[0, 0] = (faces, person % 256, variant % 256)
    img[0, 1] = (size, person // 256, 0)
    return img


class FakeEngine:
    """Implements the gallery's FaceAnalyzer protocol without any model."""

    def __init__(self, limits: ImageLimits | None = None) -> None:
        self.limits = limits
        self.calls = 0

    @property
    def pack_id(self) -> str:
        return PACK

    @property
    def calibration(self) -> Calibration:
        return CALIBRATION

    def analyze(self, image: ImageSource) -> DetectResult:
        self.calls += 1
        px = decode(image, self.limits)
        faces, person, variant = (int(x) for x in px[0, 0])
        size, person_hi = int(px[0, 1, 0]), int(px[0, 1, 1])
        person += 256 * person_hi
        out = []
        for i in range(faces):
            emb = Embedding(person_vector(person + i, variant), PACK)
            box = BBox(10.0 + 200 * i, 10.0, 10.0 + 200 * i + size, 10.0 + size)
            out.append(Face(box=box, score=1.0, embedding=emb))
        return DetectResult(px.shape[1], px.shape[0], out)


def who(gallery: Gallery, person: int, purpose: str = "door") -> str | None:
    """The subject id ``gallery`` finds for a new photo of ``person``, or None (unknown)."""
    face = gallery.identify(face_image(person, 9), purpose).faces[0]
    return face.match.subject.id if face.match else None


def enrol_person(gallery: Gallery, person: int, purpose: str = "door") -> str:
    """A consented subject ``person N`` with two photos of ``person``; its id."""
    subject = gallery.create_subject(f"person {person}")
    gallery.grant_consent(subject.id, purpose, "form")
    gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], purpose)
    return subject.id


def bulk_enroll(data: Path, subjects: int) -> None:
    """Enrol ``subjects`` people with 3 images each, printing each subject id when done."""
    from facegate.gallery.service import Gallery

    with Gallery.open(data, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
        for person in range(subjects):
            subject = gallery.create_subject(f"person {person}")
            gallery.grant_consent(subject.id, "door", "bulk test")
            gallery.enroll(subject.id, [face_image(person, v) for v in range(3)], "door")
            print(subject.id, flush=True)  # noqa: T201 - the parent test reads progress


if __name__ == "__main__":
    bulk_enroll(Path(sys.argv[1]), int(sys.argv[2]))
