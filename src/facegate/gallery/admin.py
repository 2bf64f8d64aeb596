"""The gallery's accountable writes: purpose policies, consent changes, erasure, retention.

Mixed into :class:`facegate.gallery.service.Gallery` (as :class:`facegate.store.lifecycle.
LifecycleQueries` is into the SQL store); it needs only the :class:`FaceAnalyzer` protocol,
not the service module, so the two do not import each other. Each method takes the gallery's
write lock, makes its store change and appends its audit record in one transaction (both
commit or neither does), then updates the search index; a refusal is recorded too
(:meth:`GalleryAdmin._audited`). The gallery supplies the store, the audit chain, the search
index, the engine and the index loader declared below.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from facegate.errors import FacegateError, StoreError
from facegate.gallery.analyzer import FaceAnalyzer
from facegate.privacy.audit import Actor, AuditChain, AuditEvent
from facegate.privacy.purposes import check_purpose_name
from facegate.store.index import SearchIndex
from facegate.store.protocol import (
    Consent,
    ConsentEvidence,
    Purpose,
    PurposeErasure,
    Store,
    Subject,
    SweepResult,
    TemplateInfo,
)


class GalleryAdmin:
    """Purpose definition, consent grant and revocation, erasure and sweeps, with audit."""

    store: Store
    audit: AuditChain
    _index: SearchIndex
    _loaded: set[str]
    _write: threading.RLock

    def _load(self, purpose: str, force: bool = False) -> None:
        raise NotImplementedError

    @property
    def engine(self) -> FaceAnalyzer:
        raise NotImplementedError

    # search-index upkeep after a change

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

    # purposes and consents

    def define_purpose(self, purpose: Purpose, actor: Actor | None = None) -> Purpose:
        """Create or update a purpose and its policy (retention, legal basis, scopes...)."""
        check_purpose_name(purpose.name)
        with self._audited(actor, "purpose.define", purpose.name, ()):
            with self.store.transaction():
                saved = self.store.define_purpose(purpose)
                basis = "consent" if saved.consent_required else f"no consent: {saved.legal_basis}"
                days = saved.retention_days
                event = AuditEvent("purpose.define", saved.name, (), f"{basis}; retention {days} d")
                self.record(event, actor)
        if purpose.name in self._loaded:
            self._load(purpose.name, force=True)
        return saved

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
            until = f" until {expires_at.isoformat()}" if expires_at else ""
            event = AuditEvent("consent.grant", purpose, (subject_id,), f"granted{until}")
            with self._write:
                with self.store.transaction():
                    consent = self.store.grant_consent(subject_id, purpose, proof, expires_at)
                    self.record(event, actor)
                self._reindex_subject(self.store.get_subject(subject_id))
        return consent

    def revoke_consent(self, subject_id: str, purpose: str, actor: Actor | None = None) -> bool:
        """Revoke; the subject leaves that purpose's search at once. False if none was active."""
        with self._audited(actor, "consent.revoke", purpose, (subject_id,)):
            with self._write:
                with self.store.transaction():
                    subject = self.store.get_subject(subject_id)
                    self.store.get_purpose(purpose)
                    changed = self.store.revoke_consent(subject_id, purpose)
                    decision = "revoked" if changed else "none active"
                    event = AuditEvent("consent.revoke", purpose, (subject_id,), decision)
                    self.record(event, actor)
                self._index.remove(purpose, subject.row)
        return changed

    # erasure and retention

    def erase(self, subject_id: str, actor: Actor | None = None) -> None:
        """Delete the subject, its consents, templates and data key (crypto-shredding)."""
        with self._audited(actor, "erase", None, (subject_id,)):
            with self._write:
                with self.store.transaction():
                    subject = self.store.get_subject(subject_id)
                    self.store.erase_subject(subject_id)
                    self.record(AuditEvent("erase", None, (subject_id,), "subject erased"), actor)
                self._index.remove_everywhere(subject.row)

    def erase_template(self, template_id: int, actor: Actor | None = None) -> TemplateInfo:
        """Delete one template; the subject stays, its other templates too."""
        with self._audited(actor, "erase.template", None, ()):
            with self._write:
                with self.store.transaction():
                    info = self.store.erase_template(template_id)
                    event = AuditEvent(
                        "erase.template",
                        info.purpose,
                        (info.subject_id,),
                        f"template {template_id}",
                    )
                    self.record(event, actor)
                self._reindex_subject(self.store.get_subject(info.subject_id))
        return info

    def erase_purpose(self, purpose: str, actor: Actor | None = None) -> PurposeErasure:
        """Delete everything held for one purpose (see :meth:`SqlStore.erase_purpose`)."""
        with self._audited(actor, "erase.purpose", purpose, ()):
            with self._write:
                with self.store.transaction():
                    done = self.store.erase_purpose(purpose)
                    decision = (
                        f"{done.templates} templates, {done.consents} consents, "
                        f"{len(done.erased_subjects)} subjects erased"
                    )
                    event = AuditEvent("erase.purpose", purpose, done.affected_subjects, decision)
                    self.record(event, actor)
                self._loaded.discard(purpose)
                self._index.load(purpose, [])
                self._reload_loaded()
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
                with self.store.transaction():
                    done = self.store.sweep(when, pending_grace)
                    self.record(_sweep_event(done), actor)
                if done.templates or done.erased_subjects:
                    self._reload_loaded()
        return done


def _sweep_event(done: SweepResult) -> AuditEvent:
    decision = (
        f"{done.templates_past_retention} past retention, "
        f"{done.templates_without_consent} without consent, "
        f"{len(done.erased_subjects)} subjects erased"
    )
    ids = sorted(set(done.affected_subjects) | set(done.erased_subjects))
    return AuditEvent("retention.sweep", None, ids, decision)


def _now(store: Store) -> datetime:
    clock = getattr(store, "clock", None)
    return clock() if callable(clock) else datetime.now().astimezone()
