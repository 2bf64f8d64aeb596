"""Subject access: everything facegate holds about one subject, as one JSON document.

The export has the subject record (name, external id), every consent with its evidence (the
text shown, its version, method, who recorded it), the policy of each purpose involved
(legal basis, retention), template metadata (id, purpose, pack, quality, time, SHA-256 of
the source image; embeddings stay sealed and are described, not exported) and every audit
record that names the subject. It is itself recorded in the audit chain (``export``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facegate.privacy.audit import Actor, AuditEvent
from facegate.privacy.purposes import purpose_dict
from facegate.store.protocol import Consent, TemplateInfo

if TYPE_CHECKING:
    from facegate.gallery.service import Gallery

TEMPLATES_NOTE = (
    "each template is a 128-number face embedding sealed with AES-256-GCM under a key that "
    "belongs to this subject alone; it is listed by id, purpose, model pack and the SHA-256 of "
    "the photo it came from (the photo itself was never stored)"
)


def consent_json(c: Consent) -> dict[str, Any]:
    return {
        "purpose": c.purpose,
        "evidence": c.evidence,
        "text": c.text,
        "text_version": c.text_version,
        "method": c.method,
        "recorded_by": c.recorded_by,
        "granted_at": c.granted_at.isoformat(),
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
    }


def template_json(t: TemplateInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "purpose": t.purpose,
        "pack": t.pack,
        "dim": t.dim,
        "quality": t.quality,
        "image_sha256": t.image_sha256,
        "created_at": t.created_at.isoformat(),
    }


def export_subject(gallery: Gallery, subject_id: str, actor: Actor | None = None) -> dict[str, Any]:
    """The subject access export of ``subject_id`` (records an ``export`` audit record)."""
    with gallery._audited(actor, "export", None, (subject_id,)):
        subject = gallery.store.get_subject(subject_id)
        consents = gallery.consents(subject.id)
        templates = gallery.templates(subject.id)
        names = {c.purpose for c in consents} | {t.purpose for t in templates if t.purpose}
        policies = [purpose_dict(p) for p in gallery.purposes() if p.name in names]
        record = gallery.audit.append(
            AuditEvent("export", None, (subject.id,), "subject access export"), actor
        )
        history = gallery.audit.records(subject_id=subject.id)
    return {
        "exported_at": record.at,
        "subject": {
            "subject_id": subject.id,
            "subject": subject.display_name,
            "external_id": subject.external_id,
            "created_at": subject.created_at.isoformat(),
        },
        "consents": [consent_json(c) for c in consents],
        "purposes": policies,
        "templates": [template_json(t) for t in templates],
        "templates_note": TEMPLATES_NOTE,
        "audit_subject_ref": gallery.audit.subject_ref(subject.id),
        "audit_records": [r.to_dict() for r in history],
    }
