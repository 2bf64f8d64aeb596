"""The gallery's searches: open-set identification (1:N) and verification against one
subject (1:1), both within one purpose.

Mixed into :class:`facegate.gallery.service.Gallery`, which supplies the store, the search
index, the engine, the index loader, the change feed (:meth:`GalleryFeed.sync`) and the audit
record (:class:`GalleryAdmin`), declared below. Every search applies the change feed first, so
another process's enrolment, revocation or erasure counts at once, and re-checks each
candidate's consent in the store; every search is recorded in the audit chain, a refusal too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np

from facegate.config import GalleryConfig
from facegate.errors import (
    ConsentRequiredError,
    InvalidRequestError,
    NoFaceError,
    StoreError,
    SubjectNotFoundError,
)
from facegate.gallery.analyzer import FaceAnalyzer
from facegate.gallery.enrollment import embedding_of
from facegate.gallery.results import (
    Candidate,
    FaceIdentification,
    IdentifyResult,
    SubjectVerifyResult,
)
from facegate.imageio import ImageSource
from facegate.liveness.evidence import LivenessEvidence
from facegate.liveness.evidence import require as require_liveness
from facegate.privacy.audit import Actor, AuditEvent
from facegate.privacy.purposes import liveness_required
from facegate.store.index import Hit, SearchIndex
from facegate.store.protocol import Store, Subject
from facegate.types import DetectResult, Face

MAX_TOP_K = 20
"""The most candidates an identification returns per face."""


class GallerySearch:
    """Identify and verify within a purpose, with the consent checks both need."""

    store: Store
    config: GalleryConfig
    _index: SearchIndex
    _write: threading.RLock

    @property
    def engine(self) -> FaceAnalyzer:
        raise NotImplementedError

    def _load(self, purpose: str, force: bool = False) -> None:
        raise NotImplementedError

    def sync(self) -> int:
        raise NotImplementedError

    def record(self, event: AuditEvent, actor: Actor | None = None) -> int:
        raise NotImplementedError

    def _audited(
        self, actor: Actor | None, operation: str, purpose: str | None, ids: Sequence[str]
    ) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _require_consent(self, subject: Subject, purpose: str) -> None:
        policy = self.store.get_purpose(purpose)
        if not policy.consent_required:
            return
        if subject.row not in self.store.active_rows(purpose, [subject.row]):
            raise ConsentRequiredError(
                f"subject {subject.id} has no active consent for purpose {purpose!r}"
            )

    def _subject_in(self, subject_id: str, purpose: str) -> Subject:
        """The subject as ``purpose`` sees it: one without an active consent for it reads
        exactly like an unknown id (nobody learns that it exists elsewhere)."""
        try:
            subject = self.store.get_subject(subject_id)
            self._require_consent(subject, purpose)
        except (SubjectNotFoundError, ConsentRequiredError):
            raise _not_in_purpose(subject_id, purpose) from None
        return subject

    def _liveness_gate(self, purpose: str, evidence: LivenessEvidence | None) -> None:
        """Refuse when the purpose's policy requires liveness and no evidence came."""
        require_liveness(liveness_required(self.store.get_purpose(purpose)), evidence, purpose)

    def identify(
        self,
        image: ImageSource,
        purpose: str,
        top_k: int = 5,
        *,
        operating_point: str | None = None,
        below_threshold: bool = False,
        actor: Actor | None = None,
        liveness: LivenessEvidence | None = None,
    ) -> IdentifyResult:
        """Who is each face in ``image``, among the subjects consented for ``purpose``?

        Candidates are the best ``top_k`` (at most :data:`MAX_TOP_K`) subjects *at or above*
        the operating point: an unknown face lists nobody. ``below_threshold`` (an
        administrator's diagnostic, recorded as such, with every subject listed named in the
        record) returns the best ``top_k`` whatever their score.
        """
        with self._audited(actor, "identify", purpose, ()):
            if not 1 <= top_k <= MAX_TOP_K:
                raise InvalidRequestError(f"top_k must be between 1 and {MAX_TOP_K}, not {top_k}")
            self._liveness_gate(purpose, liveness)
            analysed = self.engine.analyze(image)
            if liveness is not None:
                liveness.check(embedding_of(_largest_embedded_face(analysed.faces))[0])
            found = self._identify(analysed, purpose, top_k, operating_point, below_threshold)
            known = [f.match.subject.id for f in found.faces if f.match is not None]
            listed = sorted({c.subject.id for f in found.faces for c in f.candidates} - set(known))
            tops = [f.similarity for f in found.faces if f.similarity is not None]
            decision = f"{len(known)} known, {len(found.faces) - len(known)} unknown"
            if below_threshold:
                decision += f"; candidates below threshold listed ({len(listed)} subjects)"
            decision += f"; {liveness.describe()}" if liveness is not None else ""
            ids = known + (listed if below_threshold else [])
            event = AuditEvent("identify", purpose, ids, decision, max(tops, default=None))
            self.record(event, actor)
        return found

    def identify_faces(
        self, result: DetectResult, purpose: str, operating_point: str | None = None
    ) -> IdentifyResult:
        """Identification of already analysed faces, *without* an audit record.

        For callers that record one summary record for many searches themselves (video
        redaction records one ``redact`` record per file).
        """
        return self._identify(result, purpose, 1, operating_point)

    def _identify(
        self,
        result: DetectResult,
        purpose: str,
        top_k: int,
        operating_point: str | None,
        below_threshold: bool = False,
    ) -> IdentifyResult:
        self.store.get_purpose(purpose)
        self._load(purpose)
        self.sync()  # writes by other processes (and threads) since the last search
        faces = [f for f in result.faces if f.embedding is not None]
        gallery_size = self._index.subjects(purpose)
        point = self.engine.calibration.operating_point(
            operating_point or self.config.operating_point, gallery_size
        )
        out: list[FaceIdentification] = []
        if faces:
            queries = np.stack([embedding_of(f)[0] for f in faces])
            hits = self._index.search(purpose, queries, max(1, top_k))
            candidates = self._candidates(purpose, hits)
            for face, cands in zip(faces, candidates, strict=True):
                match = cands[0] if cands and cands[0].similarity >= point.threshold else None
                best = cands[0].similarity if cands else None
                shown = (
                    cands
                    if below_threshold
                    else [c for c in cands if c.similarity >= point.threshold]
                )
                out.append(FaceIdentification(face, match, shown[:top_k], point, best))
        return IdentifyResult(result.width, result.height, purpose, gallery_size, out)

    def _candidates(self, purpose: str, hits: list[list[Hit]]) -> list[list[Candidate]]:
        rows = sorted({h.row for face_hits in hits for h in face_hits})
        active = self.store.active_rows(purpose, rows)
        subjects = self.store.subjects_by_row(sorted(active))
        stale = [r for r in rows if r not in subjects]
        if stale:  # consent expired or subject gone since the index was built
            with self._write:
                for row in stale:
                    self._index.remove(purpose, row)
        return [
            [Candidate(subjects[h.row], h.similarity) for h in face_hits if h.row in subjects]
            for face_hits in hits
        ]

    def verify(
        self,
        image: ImageSource,
        subject_id: str,
        purpose: str,
        *,
        operating_point: str | None = None,
        actor: Actor | None = None,
        liveness: LivenessEvidence | None = None,
    ) -> SubjectVerifyResult:
        """Is the largest face in ``image`` the enrolled subject (1:1, within ``purpose``)?

        A purpose that requires liveness needs ``liveness`` evidence whose face is the probe's.
        """
        with self._audited(actor, "verify", purpose, (subject_id,)):
            self._liveness_gate(purpose, liveness)
            subject = self._subject_in(subject_id, purpose)
            pack = self.engine.pack_id
            vectors = self.store.subject_vectors(subject.id, pack, purpose)
            if not len(vectors):
                raise StoreError(
                    f"subject {subject.id} has no templates of pack {pack} for {purpose!r}"
                )
            face = _largest_embedded_face(self.engine.analyze(image).faces)
            if liveness is not None:
                liveness.check(embedding_of(face)[0])
            similarity = float(np.max(vectors @ embedding_of(face)[0]))
            point = self.engine.calibration.operating_point(
                operating_point or self.config.verify_operating_point
            )
            match = similarity >= point.threshold
            decision = f"{'match' if match else 'no match'} at {point.name}"
            decision += f"; {liveness.describe()}" if liveness is not None else ""
            self.record(AuditEvent("verify", purpose, (subject.id,), decision, similarity), actor)
        return SubjectVerifyResult(subject, match, similarity, point, face)


def _not_in_purpose(subject_id: str, purpose: str) -> SubjectNotFoundError:
    return SubjectNotFoundError(f"no subject {subject_id!r} in purpose {purpose!r}")


def _largest_embedded_face(faces: list[Face]) -> Face:
    embedded = [f for f in faces if f.embedding is not None]
    if not embedded:
        raise NoFaceError("no face found in the probe image")
    return max(embedded, key=lambda f: f.box.area)
