"""The storage contract every gallery backend implements, and the values it returns.

A backend owns encryption at rest: it takes plain embeddings in :meth:`Store.add_templates`,
stores them sealed under the subject's data key, and hands them back decrypted only through
:meth:`Store.subject_vectors` and :meth:`Store.iter_purpose_vectors`. Subjects are addressed
by their public id (a 32-character hex string); ``row`` is the backend's integer key, which the
vector index uses as its label.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt

from facegate.types import FloatArray

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Subject:
    id: str
    row: int
    display_name: str
    external_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose and its policy: legal basis, template retention, images, alternative, scopes.

    ``consent_required`` is false only for a purpose whose ``legal_basis`` is not consent and
    whose ``legal_basis_reference`` names the law that allows it; reports show such purposes.
    ``scopes`` lists the API-key scopes that may act for the purpose (empty: any scope).
    ``watchlist`` marks a purpose whose gallery may be searched in real time from a video
    stream (where the law allows); its hits are candidates until two people confirm them.
    """

    name: str
    description: str
    created_at: datetime
    legal_basis: str = "explicit-consent"
    legal_basis_reference: str = ""
    consent_required: bool = True
    retention_days: int | None = None
    keep_images: bool = False
    non_face_alternative: bool = True
    scopes: tuple[str, ...] = ()
    liveness_required: bool | None = None  # None: the default for the purpose's name
    watchlist: bool = False

    def allows_scope(self, scope: str) -> bool:
        return not self.scopes or scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True, slots=True)
class Consent:
    subject_id: str
    purpose: str
    evidence: str
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    text: str | None = None
    text_version: str | None = None
    method: str | None = None
    recorded_by: str | None = None

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """What is known about a stored template, without its embedding."""

    id: int
    subject_id: str
    pack: str
    dim: int
    quality: float | None
    image_sha256: str
    created_at: datetime
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentEvidence:
    """How a consent was given: the exact text shown, its version, the method, the recorder."""

    evidence: str = ""
    text: str | None = None
    text_version: str | None = None
    method: str | None = None
    recorded_by: str | None = None


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a retention sweep deleted: templates by reason, and subjects erased whole."""

    templates_past_retention: int = 0
    templates_without_consent: int = 0
    erased_subjects: tuple[str, ...] = ()
    affected_subjects: tuple[str, ...] = ()

    @property
    def templates(self) -> int:
        return self.templates_past_retention + self.templates_without_consent


@dataclass(frozen=True, slots=True)
class PurposeErasure:
    """What erasing a purpose deleted."""

    purpose: str
    templates: int
    consents: int
    erased_subjects: tuple[str, ...]
    affected_subjects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One change-feed entry (:mod:`facegate.store.changes`): ``kind`` ``subject`` (the
    templates or consents of ``subject_row`` changed, within ``purpose``, or in every purpose
    when it is None) or ``purpose`` (the purpose's policy or contents changed as a whole)."""

    seq: int
    kind: str
    subject_row: int | None
    purpose: str | None


@dataclass(frozen=True, slots=True, eq=False)
class NewTemplate:
    """An embedding to store, with the SHA-256 of the image it came from (never the image)."""

    vector: FloatArray
    pack: str
    image_sha256: str
    quality: float | None = None


class Store(Protocol):
    """Subjects, purposes, consents and sealed templates."""

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[object]:
        """A unit of work: every write made inside it (and its audit record) commits at once."""
        ...

    def add_purpose(self, name: str, description: str = "") -> Purpose: ...

    def define_purpose(self, purpose: Purpose) -> Purpose: ...

    def get_purpose(self, name: str) -> Purpose: ...

    def list_purposes(self) -> list[Purpose]: ...

    def create_subject(self, display_name: str, external_id: str | None = None) -> Subject: ...

    def get_subject(self, subject_id: str) -> Subject: ...

    def find_subjects(self, ref: str) -> list[Subject]: ...

    def list_subjects(self, purpose: str | None = None) -> list[Subject]: ...

    def subjects_by_row(self, rows: Sequence[int]) -> dict[int, Subject]: ...

    def grant_consent(
        self,
        subject_id: str,
        purpose: str,
        evidence: str | ConsentEvidence,
        expires_at: datetime | None = None,
    ) -> Consent: ...

    def revoke_consent(self, subject_id: str, purpose: str) -> bool: ...

    def consents(self, subject_id: str) -> list[Consent]: ...

    def active_rows(self, purpose: str, rows: Sequence[int] | None = None) -> set[int]: ...

    def add_templates(
        self, subject_id: str, templates: Sequence[NewTemplate], purpose: str | None = None
    ) -> list[TemplateInfo]: ...

    def templates(self, subject_id: str) -> list[TemplateInfo]: ...

    def subject_vectors(
        self, subject_id: str, pack: str, purpose: str | None = None
    ) -> FloatArray: ...

    def iter_purpose_vectors(
        self, purpose: str, pack: str, batch: int = 4096
    ) -> Iterator[tuple[IntArray, FloatArray]]: ...

    def erase_subject(self, subject_id: str) -> None: ...

    def erase_template(self, template_id: int) -> TemplateInfo: ...

    def erase_purpose(self, purpose: str) -> PurposeErasure: ...

    def sweep(self, now: datetime, pending_grace: timedelta) -> SweepResult: ...

    def purpose_counts(self) -> dict[str, tuple[int, int]]: ...

    def latest_change(self) -> int: ...

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]: ...
