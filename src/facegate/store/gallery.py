"""The gallery: consent-scoped enrolment, open-set identification and erasure.

>>> gallery = Gallery.open("facegate-data")            # SQLite + master key in the data dir
>>> gallery.add_purpose("door")
>>> alice = gallery.create_subject("Alice")
>>> gallery.grant_consent(alice.id, "door", evidence="signed form #123")
>>> gallery.enroll(alice.id, ["alice1.jpg", "alice2.jpg"], purpose="door")
>>> gallery.identify("camera.jpg", purpose="door").faces[0].match

Every call that touches faces names a purpose; only subjects with an active consent for it
can be enrolled into it or returned by it. Identification is open-set: a face whose best
candidate scores below the operating point (``fpir=1e-2`` by default, its threshold adjusted
to the number of subjects searched) comes back with ``match=None`` ("unknown").

Thread safety: writes (enrol, consent changes, erase) are serialised; searches run in parallel
under the index's readers-writer lock. The consent of every candidate is re-checked in the
store at search time, so a revocation or expiry takes effect at once.

Accountability: every biometric call (enrol, identify, verify, consent change, erasure, export,
purpose change, sweep), allowed or refused, appends a record to the audit chain
(:mod:`facegate.privacy.audit`) naming ``actor`` (an API key id, ``cli`` or ``python``). A call
whose record cannot be appended fails: no record, no result.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np

from facegate.config import GalleryConfig, ImageLimits
from facegate.errors import (
    AmbiguousSubjectError,
    ConfigError,
    ConsentRequiredError,
    EnrollmentError,
    FaceError,
    FacegateError,
    NoFaceError,
    StoreError,
    SubjectNotFoundError,
)
from facegate.imageio import ImageSource
from facegate.pipeline.calibration import Calibration
from facegate.privacy.audit import Actor, AuditChain, AuditEvent, Clock
from facegate.privacy.purposes import check_purpose_name
from facegate.store.crypto import MasterKey
from facegate.store.enrollment import SourceImage, enrollment_face, read_source
from facegate.store.index import Hit, IndexParams, IndexStats, VectorIndex
from facegate.store.protocol import (
    Consent,
    ConsentEvidence,
    NewTemplate,
    Purpose,
    PurposeErasure,
    Store,
    Subject,
    SweepResult,
    TemplateInfo,
)
from facegate.store.results import (
    Candidate,
    DuplicateWarning,
    EnrollResult,
    FaceIdentification,
    IdentifyResult,
    SubjectVerifyResult,
)
from facegate.store.sql import SqlStore
from facegate.types import DetectResult, Face, FloatArray

log = logging.getLogger(__name__)


class FaceAnalyzer(Protocol):
    """What the gallery needs from :class:`facegate.pipeline.engine.FaceEngine`."""

    @property
    def pack_id(self) -> str: ...

    @property
    def calibration(self) -> Calibration: ...

    def analyze(self, image: ImageSource) -> DetectResult: ...


def _index_params(config: GalleryConfig) -> IndexParams:
    return IndexParams(
        config.hnsw_min_size,
        config.hnsw_m,
        config.hnsw_ef_search,
        config.hnsw_ef_construction,
        large_index=config.large_index,
    )


class Gallery:
    """Subjects, consents and templates in a :class:`Store`, searched through FAISS."""

    def __init__(
        self,
        store: Store,
        engine: FaceAnalyzer | Callable[[], FaceAnalyzer],
        config: GalleryConfig | None = None,
        limits: ImageLimits | None = None,
        audit: AuditChain | None = None,
    ) -> None:
        self.store = store
        if audit is None:
            if not isinstance(store, SqlStore):
                raise ConfigError("a gallery on a non-SQL store needs an audit chain")
            audit = AuditChain(store.engine, store.master_key, store.clock)
        self.audit = audit
        self.config = config or GalleryConfig()
        self.limits = limits or ImageLimits()
        self._engine_or_factory = engine
        self._engine: FaceAnalyzer | None = None
        self._index = VectorIndex(_index_params(self.config))
        self._loaded: set[str] = set()
        self._write = threading.RLock()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        engine: FaceAnalyzer | Callable[[], FaceAnalyzer] | None = None,
        config: GalleryConfig | None = None,
        limits: ImageLimits | None = None,
        master_key: bytes | str | None = None,
        preload: bool = True,
        clock: Clock | None = None,
    ) -> Gallery:
        """Open (or create) the embedded gallery in data dir ``path``.

        The master key is ``master_key``, else ``FACEGATE_MASTER_KEY``, else
        ``path/master.key`` (created with mode 0600 on first open). With ``preload`` the
        search index of every purpose is rebuilt from the store now, not on first use.
        ``clock`` gives "now" for timestamps, consent expiry and the audit chain (tests).
        """
        home = Path(path)
        key = MasterKey.resolve(home, master_key)
        store = SqlStore.open_sqlite(home, key, clock) if clock else SqlStore.open_sqlite(home, key)
        if engine is None:
            engine = _default_engine(home, limits)
        gallery = cls(store, engine, config, limits)
        if preload:
            gallery.load_indexes()
        return gallery

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def engine(self) -> FaceAnalyzer:
        if self._engine is None:
            source = self._engine_or_factory
            self._engine = source() if callable(source) else source
        return self._engine

    # index lifecycle

    def load_indexes(self) -> None:
        """Rebuild every purpose's search index from the store (decrypting templates)."""
        for purpose in self.store.list_purposes():
            self._load(purpose.name, force=True)

    def _load(self, purpose: str, force: bool = False) -> None:
        if purpose in self._loaded and not force:
            return
        with self._write:
            if purpose in self._loaded and not force:
                return
            pack = self.engine.pack_id
            self._index.load(purpose, self.store.iter_purpose_vectors(purpose, pack))
            self._loaded.add(purpose)
        log.info("index for purpose %s loaded: %s", purpose, self._index.stats().get(purpose))

    def index_stats(self) -> dict[str, IndexStats]:
        return self._index.stats()

    def _reload_loaded(self) -> None:
        with self._write:
            for purpose in list(self._loaded):
                self._load(purpose, force=True)

    def _reindex_subject(self, subject: Subject) -> None:
        with self._write:
            for purpose in self._loaded:
                self._index.remove(purpose, subject.row)
                if subject.row not in self.store.active_rows(purpose, [subject.row]):
                    continue
                vectors = self.store.subject_vectors(subject.id, self.engine.pack_id, purpose)
                if len(vectors):
                    self._index.add(purpose, subject.row, vectors)

    # audit

    def record(self, event: AuditEvent, actor: Actor | None = None) -> int:
        """Append ``event`` to the audit chain; returns its sequence number."""
        return self.audit.append(event, actor).seq

    @contextmanager
    def _audited(
        self, actor: Actor | None, operation: str, purpose: str | None, ids: Sequence[str]
    ) -> Iterator[None]:
        """Record a refusal (any facegate error) before it propagates, once per error."""
        try:
            yield
        except FacegateError as exc:
            if getattr(exc, "audit_seq", None) is None:
                event = AuditEvent(operation, purpose, ids, f"refused: {type(exc).__name__}")
                exc.audit_seq = self.record(event, actor)  # type: ignore[attr-defined]
            raise

    # purposes, subjects, consents

    def add_purpose(self, name: str, description: str = "") -> Purpose:
        """The purpose ``name``, created with the default policy (explicit consent) if new."""
        return self.store.add_purpose(check_purpose_name(name), description)

    def define_purpose(self, purpose: Purpose, actor: Actor | None = None) -> Purpose:
        """Create or update a purpose and its policy (retention, legal basis, scopes...)."""
        check_purpose_name(purpose.name)
        with self._audited(actor, "purpose.define", purpose.name, ()):
            saved = self.store.define_purpose(purpose)
            basis = "consent" if saved.consent_required else f"no consent: {saved.legal_basis}"
            days = saved.retention_days
            self.record(
                AuditEvent("purpose.define", saved.name, (), f"{basis}; retention {days} d"), actor
            )
        if purpose.name in self._loaded:
            self._load(purpose.name, force=True)
        return saved

    def purposes(self) -> list[Purpose]:
        return self.store.list_purposes()

    def create_subject(self, display_name: str, external_id: str | None = None) -> Subject:
        if not display_name.strip():
            raise StoreError("a subject needs a non-empty display name")
        return self.store.create_subject(display_name.strip(), external_id)

    def subject(self, ref: str) -> Subject:
        """The one subject whose id, external id or display name is ``ref``."""
        found = self.store.find_subjects(ref)
        if not found:
            raise SubjectNotFoundError(f"no subject with id or name {ref!r}")
        if len(found) > 1:
            raise AmbiguousSubjectError(
                f"{len(found)} subjects are named {ref!r}; use a subject id: "
                + ", ".join(s.id for s in found)
            )
        return found[0]

    def subjects(self, purpose: str | None = None) -> list[Subject]:
        if purpose is not None:
            self.store.get_purpose(purpose)
        return self.store.list_subjects(purpose)

    def consents(self, subject_id: str) -> list[Consent]:
        return self.store.consents(subject_id)

    def templates(self, subject_id: str) -> list[TemplateInfo]:
        return self.store.templates(subject_id)

    def grant_consent(
        self,
        subject_id: str,
        purpose: str,
        evidence: str = "",
        expires_at: datetime | None = None,
        *,
        text: str | None = None,
        text_version: str | None = None,
        method: str | None = None,
        actor: Actor | None = None,
    ) -> Consent:
        """Record an explicit consent with its evidence; the subject's templates for that
        purpose join its search at once.

        ``text`` is the exact text shown to the person, ``text_version`` its version, ``method``
        how it was given (``signed-form``, ``app-checkbox``...); ``evidence`` any further
        reference. At least one of ``text`` and ``evidence`` is required.
        """
        with self._audited(actor, "consent.grant", purpose, (subject_id,)):
            if not (text or "").strip() and not evidence.strip():
                raise StoreError("consent needs evidence: the text shown, or a reference to it")
            who = actor or Actor()
            proof = ConsentEvidence(evidence, text, text_version, method, who.key_id)
            with self._write:
                consent = self.store.grant_consent(subject_id, purpose, proof, expires_at)
                subject = self.store.get_subject(subject_id)
                self._reindex_subject(subject)
            until = f" until {expires_at.isoformat()}" if expires_at else ""
            self.record(
                AuditEvent("consent.grant", purpose, (subject_id,), f"granted{until}"), actor
            )
        return consent

    def revoke_consent(self, subject_id: str, purpose: str, actor: Actor | None = None) -> bool:
        """Revoke; the subject leaves that purpose's search at once. False if none was active."""
        with self._audited(actor, "consent.revoke", purpose, (subject_id,)):
            with self._write:
                subject = self.store.get_subject(subject_id)
                self.store.get_purpose(purpose)
                changed = self.store.revoke_consent(subject_id, purpose)
                self._index.remove(purpose, subject.row)
            decision = "revoked" if changed else "none active"
            self.record(AuditEvent("consent.revoke", purpose, (subject_id,), decision), actor)
        return changed

    def erase(self, subject_id: str, actor: Actor | None = None) -> None:
        """Delete the subject, its consents, templates and data key (crypto-shredding)."""
        with self._audited(actor, "erase", None, (subject_id,)):
            with self._write:
                subject = self.store.get_subject(subject_id)
                self.store.erase_subject(subject_id)
                self._index.remove_everywhere(subject.row)
            self.record(AuditEvent("erase", None, (subject_id,), "subject erased"), actor)

    def erase_template(self, template_id: int, actor: Actor | None = None) -> TemplateInfo:
        """Delete one template; the subject stays, its other templates too."""
        with self._audited(actor, "erase.template", None, ()):
            with self._write:
                info = self.store.erase_template(template_id)
                self._reindex_subject(self.store.get_subject(info.subject_id))
            event = AuditEvent(
                "erase.template", info.purpose, (info.subject_id,), f"template {template_id}"
            )
            self.record(event, actor)
        return info

    def erase_purpose(self, purpose: str, actor: Actor | None = None) -> PurposeErasure:
        """Delete everything held for one purpose (see :meth:`SqlStore.erase_purpose`)."""
        with self._audited(actor, "erase.purpose", purpose, ()):
            with self._write:
                done = self.store.erase_purpose(purpose)
                self._loaded.discard(purpose)
                self._index.load(purpose, [])
                self._reload_loaded()
            decision = (
                f"{done.templates} templates, {done.consents} consents, "
                f"{len(done.erased_subjects)} subjects erased"
            )
            self.record(
                AuditEvent("erase.purpose", purpose, done.affected_subjects, decision), actor
            )
        return done

    def sweep(
        self,
        now: datetime | None = None,
        pending_grace: timedelta = timedelta(days=1),
        actor: Actor | None = None,
    ) -> SweepResult:
        """Apply retention: see :meth:`facegate.store.lifecycle.LifecycleQueries.sweep`."""
        when = now or _now(self.store)
        with self._audited(actor, "retention.sweep", None, ()):
            with self._write:
                done = self.store.sweep(when, pending_grace)
                if done.templates or done.erased_subjects:
                    self._reload_loaded()
            decision = (
                f"{done.templates_past_retention} past retention, "
                f"{done.templates_without_consent} without consent, "
                f"{len(done.erased_subjects)} subjects erased"
            )
            ids = sorted(set(done.affected_subjects) | set(done.erased_subjects))
            self.record(AuditEvent("retention.sweep", None, ids, decision), actor)
        return done

    def _require_consent(self, subject: Subject, purpose: str) -> None:
        policy = self.store.get_purpose(purpose)
        if not policy.consent_required:
            return
        if subject.row not in self.store.active_rows(purpose, [subject.row]):
            raise ConsentRequiredError(
                f"subject {subject.id} has no active consent for purpose {purpose!r}"
            )

    # enrolment

    def enroll(
        self,
        subject_id: str,
        images: Sequence[ImageSource],
        purpose: str,
        *,
        skip_failures: bool = False,
        actor: Actor | None = None,
    ) -> EnrollResult:
        """Add one template per image; each image must hold exactly one usable face.

        All-or-nothing by default: if any image fails, :class:`EnrollmentError` lists every
        failure and nothing is stored. With ``skip_failures`` the good images are stored and
        the failures reported in the result. Images already enrolled for this purpose (same
        SHA-256) are skipped. Templates are bound to ``purpose``: only its searches use them.
        """
        with self._audited(actor, "enroll", purpose, (subject_id,)):
            subject = self.store.get_subject(subject_id)
            self._require_consent(subject, purpose)
            self._load(purpose)
            new, failures = self._analyze_for_enrollment(images)
            if failures and not skip_failures:
                detail = "; ".join(str(err) for _, err in failures)
                raise EnrollmentError(f"enrolment refused, nothing stored: {detail}", failures)
            warnings = self._duplicate_warnings(subject, purpose, new)
            with self._write:
                self._require_consent(subject, purpose)
                added = self.store.add_templates(subject.id, [t for _, t in new], purpose)
                if added:
                    self._index_new_templates(
                        subject, purpose, new, {t.image_sha256 for t in added}
                    )
            added_sha = {t.image_sha256 for t in added}
            skipped = [src.label for src, t in new if t.image_sha256 not in added_sha]
            decision = f"added {len(added)}, skipped {len(skipped)}, failed {len(failures)}"
            self.record(AuditEvent("enroll", purpose, (subject.id,), decision), actor)
        log.info("enrolled subject %s: %d templates added", subject.id, len(added))
        return EnrollResult(subject, purpose, added, skipped, failures, warnings)

    def _analyze_for_enrollment(
        self, images: Sequence[ImageSource]
    ) -> tuple[list[tuple[SourceImage, NewTemplate]], list[tuple[str, FacegateError]]]:
        if not images:
            raise EnrollmentError("enrolment needs at least one image", [])
        new: list[tuple[SourceImage, NewTemplate]] = []
        failures: list[tuple[str, FacegateError]] = []
        for position, image in enumerate(images):
            label = f"image {position + 1}"
            try:
                source = read_source(image, position, self.limits)
                label = source.label
                faces = self.engine.analyze(source.data).faces
                face = enrollment_face(faces, source.label, self.config)
            except FacegateError as exc:
                failures.append((label, exc))
                continue
            vector, pack = _embedding_of(face)
            new.append((source, NewTemplate(vector, pack, source.sha256, face.quality)))
        return new, failures

    def _duplicate_warnings(
        self, subject: Subject, purpose: str, new: list[tuple[SourceImage, NewTemplate]]
    ) -> list[DuplicateWarning]:
        if not new:
            return []
        point = self.engine.calibration.operating_point(self.config.duplicate_operating_point)
        queries = np.stack([t.vector for _, t in new])
        hits = self._index.search(purpose, queries, 2)
        others: dict[int, Hit] = {}
        found: list[tuple[str, Hit]] = []
        for (source, _), face_hits in zip(new, hits, strict=True):
            for hit in face_hits:
                if hit.row != subject.row and hit.similarity >= point.threshold:
                    found.append((source.label, hit))
                    others[hit.row] = hit
                    break
        by_row = self.store.subjects_by_row(list(others))
        warnings = [
            DuplicateWarning(label, by_row[hit.row].id, hit.similarity, point)
            for label, hit in found
            if hit.row in by_row
        ]
        for w in warnings:
            log.warning("enrolment of subject %s: %s", subject.id, w)
        return warnings

    def _index_new_templates(
        self,
        subject: Subject,
        purpose: str,
        new: list[tuple[SourceImage, NewTemplate]],
        added: set[str],
    ) -> None:
        vectors = np.stack([t.vector for _, t in new if t.image_sha256 in added])
        if purpose in self._loaded and subject.row in self.store.active_rows(
            purpose, [subject.row]
        ):
            self._index.add(purpose, subject.row, vectors)

    # search

    def identify(
        self,
        image: ImageSource,
        purpose: str,
        top_k: int = 5,
        *,
        operating_point: str | None = None,
        actor: Actor | None = None,
    ) -> IdentifyResult:
        """Who is each face in ``image``, among the subjects consented for ``purpose``?"""
        with self._audited(actor, "identify", purpose, ()):
            self.store.get_purpose(purpose)
            found = self._identify(self.engine.analyze(image), purpose, top_k, operating_point)
            known = [f.match.subject.id for f in found.faces if f.match is not None]
            tops = [f.candidates[0].similarity for f in found.faces if f.candidates]
            decision = f"{len(known)} known, {len(found.faces) - len(known)} unknown"
            event = AuditEvent("identify", purpose, known, decision, max(tops, default=None))
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
        self, result: DetectResult, purpose: str, top_k: int, operating_point: str | None
    ) -> IdentifyResult:
        self.store.get_purpose(purpose)
        self._load(purpose)
        faces = [f for f in result.faces if f.embedding is not None]
        gallery_size = self._index.subjects(purpose)
        point = self.engine.calibration.operating_point(
            operating_point or self.config.operating_point, gallery_size
        )
        out: list[FaceIdentification] = []
        if faces:
            queries = np.stack([_embedding_of(f)[0] for f in faces])
            hits = self._index.search(purpose, queries, max(1, top_k))
            candidates = self._candidates(purpose, hits)
            for face, cands in zip(faces, candidates, strict=True):
                match = cands[0] if cands and cands[0].similarity >= point.threshold else None
                out.append(FaceIdentification(face, match, cands[:top_k], point))
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
    ) -> SubjectVerifyResult:
        """Is the largest face in ``image`` the enrolled subject (1:1, within ``purpose``)?"""
        with self._audited(actor, "verify", purpose, (subject_id,)):
            subject = self.store.get_subject(subject_id)
            self._require_consent(subject, purpose)
            pack = self.engine.pack_id
            vectors = self.store.subject_vectors(subject.id, pack, purpose)
            if not len(vectors):
                raise StoreError(
                    f"subject {subject.id} has no templates of pack {pack} for {purpose!r}"
                )
            face = _largest_embedded_face(self.engine.analyze(image).faces)
            similarity = float(np.max(vectors @ _embedding_of(face)[0]))
            point = self.engine.calibration.operating_point(
                operating_point or self.config.verify_operating_point
            )
            match = similarity >= point.threshold
            decision = f"{'match' if match else 'no match'} at {point.name}"
            self.record(AuditEvent("verify", purpose, (subject.id,), decision, similarity), actor)
        return SubjectVerifyResult(subject, match, similarity, point, face)


def _largest_embedded_face(faces: list[Face]) -> Face:
    embedded = [f for f in faces if f.embedding is not None]
    if not embedded:
        raise NoFaceError("no face found in the probe image")
    return max(embedded, key=lambda f: f.box.area)


def _embedding_of(face: Face) -> tuple[FloatArray, str]:
    if face.embedding is None:
        raise NoFaceError("a face was found but could not be aligned for embedding")
    if not np.isfinite(face.embedding.vector).all():
        raise FaceError("the engine returned a non-finite embedding for a face")
    return face.embedding.vector, face.embedding.pack


def _now(store: Store) -> datetime:
    clock = getattr(store, "clock", None)
    return clock() if callable(clock) else datetime.now().astimezone()


def _default_engine(home: Path, limits: ImageLimits | None) -> Callable[[], FaceAnalyzer]:
    def build() -> FaceAnalyzer:
        from facegate.pipeline.engine import FaceEngine

        return FaceEngine(None, limits, home=home)

    return build
