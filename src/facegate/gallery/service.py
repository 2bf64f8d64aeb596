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
whose record cannot be appended fails: no record, no result. A write and its record commit in
one transaction (:meth:`Store.transaction`): a crash leaves both or neither.

:class:`Gallery` holds opening, purposes, subjects, enrolment and the index lifecycle; the
searches (:mod:`facegate.gallery.search`), the accountable writes (:mod:`facegate.gallery.
admin`) and following the change feed (:mod:`facegate.gallery.feed`) are mixed in.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from facegate.config import GalleryConfig, ImageLimits
from facegate.errors import (
    AmbiguousSubjectError,
    ConfigError,
    EnrollmentError,
    StoreError,
    SubjectNotFoundError,
)
from facegate.gallery.admin import GalleryAdmin
from facegate.gallery.analyzer import FaceAnalyzer
from facegate.gallery.enrollment import SourceImage, analyze_images
from facegate.gallery.feed import GalleryFeed
from facegate.gallery.packs import OtherPacks
from facegate.gallery.results import DuplicateWarning, EnrollResult
from facegate.gallery.search import MAX_TOP_K as MAX_TOP_K
from facegate.gallery.search import GallerySearch
from facegate.gallery.vectors import open_search_index
from facegate.imageio import ImageSource
from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor, AuditChain, AuditEvent, Clock
from facegate.privacy.purposes import check_purpose_name
from facegate.store.crypto import MasterKey
from facegate.store.index import Hit, IndexStats
from facegate.store.protocol import (
    Consent,
    NewTemplate,
    Purpose,
    Store,
    Subject,
    TemplateInfo,
)
from facegate.store.sql import SqlStore
from facegate.types import Face

log = logging.getLogger(__name__)


class Gallery(GalleryAdmin, GalleryFeed, GallerySearch):
    """Subjects, consents and templates in a :class:`Store`, searched through FAISS or Milvus."""

    def __init__(
        self,
        store: Store,
        engine: FaceAnalyzer | Callable[[], FaceAnalyzer],
        config: GalleryConfig | None = None,
        limits: ImageLimits | None = None,
        audit: AuditChain | None = None,
        other_packs: OtherPacks | None = None,
        *,
        home: Path | None = None,
    ) -> None:
        self.store = store
        if audit is None:
            if not isinstance(store, SqlStore):
                raise ConfigError("a gallery on a non-SQL store needs an audit chain")
            audit = AuditChain(store.transactions, store.master_key, store.clock)
        self.audit = audit
        self.config = config or GalleryConfig()
        self.limits = limits or ImageLimits()
        self._engine_or_factory = engine
        self._engine: FaceAnalyzer | None = None
        self._index = open_search_index(self.config, lambda: self.engine.pack_id, home)
        self._loaded: set[str] = set()
        self._write = threading.RLock()
        self.other_packs = other_packs or OtherPacks([])
        self._follower: threading.Thread | None = None
        self._stop_following = threading.Event()
        self._start_feed()

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
        store_url: str | None = None,
    ) -> Gallery:
        """Open (or create) the embedded gallery in data dir ``path``, or with ``store_url``
        (``postgresql+psycopg://...``) the gallery in that PostgreSQL database.

        The master key is ``master_key``, else ``FACEGATE_MASTER_KEY``, else
        ``path/master.key`` (created with mode 0600 on first open). With ``preload`` the
        search index of every purpose is rebuilt from the store now, not on first use.
        ``clock`` gives "now" for timestamps, consent expiry and the audit chain (tests).
        """
        home = Path(path)
        key = MasterKey.resolve(home, master_key)
        store = (
            SqlStore.open(home, key, store_url, clock)
            if clock
            else SqlStore.open(home, key, store_url)
        )
        if engine is None:
            engine = _default_engine(home, limits)
        names = config.enabled_packs if config is not None else []
        others = OtherPacks(names, home, limits)
        gallery = cls(store, engine, config, limits, other_packs=others, home=home)
        if preload:
            gallery.load_indexes()
        return gallery

    def close(self) -> None:
        self.stop_following()
        self._index.close()
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
        self._start_feed()
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

    # purposes, subjects, consents (changes to consents and erasure: GalleryAdmin)

    def add_purpose(self, name: str, description: str = "") -> Purpose:
        """The purpose ``name``, created with the default policy (explicit consent) if new."""
        return self.store.add_purpose(check_purpose_name(name), description)

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

    # enrolment

    def enroll(
        self,
        subject_id: str,
        images: Sequence[ImageSource],
        purpose: str,
        *,
        skip_failures: bool = False,
        actor: Actor | None = None,
        liveness: LivenessEvidence | None = None,
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
            extra: list[NewTemplate] = []

            def other_packs(source: SourceImage, face: Face) -> None:
                extra.extend(self.other_packs.templates(source, face, self.engine.pack_id))

            new, failures = analyze_images(  # the engine is built on first use, as before
                images,
                lambda data: self.engine.analyze(data),
                self.limits,
                self.config,
                other_packs,
            )
            if liveness is not None:
                for _, template in new:
                    liveness.check(template.vector)
            if failures and not skip_failures:
                detail = "; ".join(str(err) for _, err in failures)
                raise EnrollmentError(f"enrolment refused, nothing stored: {detail}", failures)
            self.sync()
            warnings = self._duplicate_warnings(subject, purpose, new)
            with self._write:
                with self.store.transaction():  # the templates and their record, or neither
                    self._require_consent(subject, purpose)
                    stored = self.store.add_templates(
                        subject.id, [t for _, t in new] + extra, purpose
                    )
                    added = [t for t in stored if t.pack == self.engine.pack_id]
                    added_sha = {t.image_sha256 for t in added}
                    skipped = [src.label for src, t in new if t.image_sha256 not in added_sha]
                    decision = f"added {len(added)}, skipped {len(skipped)}, failed {len(failures)}"
                    decision += f"; {liveness.describe()}" if liveness is not None else ""
                    self.record(AuditEvent("enroll", purpose, (subject.id,), decision), actor)
                if added:
                    self._index_new_templates(subject, purpose, new, added_sha)
        log.info("enrolled subject %s: %d templates added", subject.id, len(added))
        others = Counter(t.pack for t in stored if t.pack != self.engine.pack_id)
        return EnrollResult(subject, purpose, added, skipped, failures, warnings, dict(others))

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


def _default_engine(home: Path, limits: ImageLimits | None) -> Callable[[], FaceAnalyzer]:
    def build() -> FaceAnalyzer:
        from facegate.pipeline.engine import FaceEngine

        return FaceEngine(None, limits, home=home)

    return build
