"""Values returned by :class:`facegate.gallery.service.Gallery` and their stable JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facegate.errors import FacegateError
from facegate.store.protocol import Subject, TemplateInfo
from facegate.types import Face, OperatingPoint


@dataclass(frozen=True, slots=True)
class Candidate:
    """A subject found by a search, with its best template similarity."""

    subject: Subject
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.display_name,
            "subject_id": self.subject.id,
            "similarity": round(self.similarity, 6),
        }


@dataclass(frozen=True, slots=True, eq=False)
class FaceIdentification:
    """One probe face: who it is (``match``, or None for unknown) and the top candidates (at or
    above the operating point, unless an administrator asked for those below it)."""

    face: Face
    match: Candidate | None
    candidates: list[Candidate]
    operating_point: OperatingPoint
    similarity: float | None = None  # the best score found, whether or not it is listed

    @property
    def known(self) -> bool:
        return self.match is not None

    def to_dict(self) -> dict[str, Any]:
        best = self.similarity
        if best is None and self.candidates:
            best = self.candidates[0].similarity
        return {
            "box": self.face.box.as_list(),
            "score": round(float(self.face.score), 4),
            "subject": self.match.subject.display_name if self.match else None,
            "subject_id": self.match.subject.id if self.match else None,
            "similarity": round(best, 6) if best is not None else None,
            "operating_point": self.operating_point.name,
            "threshold": round(self.operating_point.threshold, 6),
            "calibration": self.operating_point.calibration,
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass(frozen=True, slots=True, eq=False)
class IdentifyResult:
    """Open-set identification of every face in one image, within one purpose."""

    width: int
    height: int
    purpose: str
    gallery_size: int
    faces: list[FaceIdentification] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "purpose": self.purpose,
            "gallery_size": self.gallery_size,
            "faces": [f.to_dict() for f in self.faces],
        }


@dataclass(frozen=True, slots=True)
class DuplicateWarning:
    """A newly enrolled face already matches another subject strongly."""

    image: str
    other_subject_id: str
    similarity: float
    operating_point: OperatingPoint

    def __str__(self) -> str:
        return (
            f"{self.image}: face already matches subject {self.other_subject_id} "
            f"(similarity {self.similarity:.3f} >= {self.operating_point.name} threshold "
            f"{self.operating_point.threshold:.3f})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class EnrollResult:
    """What an enrolment stored, skipped as already enrolled, refused, and warned about."""

    subject: Subject
    purpose: str
    added: list[TemplateInfo]
    already_enrolled: list[str]
    failures: list[tuple[str, FacegateError]]
    warnings: list[DuplicateWarning]
    other_packs: dict[str, int] = field(default_factory=dict)  # pack id -> templates added

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.display_name,
            "subject_id": self.subject.id,
            "purpose": self.purpose,
            "added": [t.id for t in self.added],
            "already_enrolled": self.already_enrolled,
            "failures": [{"image": img, "error": str(err)} for img, err in self.failures],
            "warnings": [str(w) for w in self.warnings],
            "other_packs": self.other_packs,
        }


@dataclass(frozen=True, slots=True, eq=False)
class SubjectVerifyResult:
    """1:1 comparison of a probe face with one enrolled subject."""

    subject: Subject
    match: bool
    similarity: float
    operating_point: OperatingPoint
    face: Face

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.display_name,
            "subject_id": self.subject.id,
            "match": self.match,
            "similarity": round(self.similarity, 6),
            "operating_point": self.operating_point.name,
            "threshold": round(self.operating_point.threshold, 6),
            "calibration": self.operating_point.calibration,
            "face": self.face.to_dict(),
        }
