"""JSON shapes of subjects, consents and templates, shared by the CLI and the HTTP API."""

from __future__ import annotations

from typing import Any

from facegate.gallery.service import Gallery
from facegate.store.protocol import Consent, Subject, TemplateInfo


def consent_dict(c: Consent) -> dict[str, Any]:
    return {
        "purpose": c.purpose,
        "evidence": c.evidence,
        "granted_at": c.granted_at.isoformat(),
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
        "text": c.text,
        "text_version": c.text_version,
        "method": c.method,
        "recorded_by": c.recorded_by,
    }


def template_dict(t: TemplateInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "pack": t.pack,
        "dim": t.dim,
        "quality": t.quality,
        "image_sha256": t.image_sha256,
        "created_at": t.created_at.isoformat(),
        "purpose": t.purpose,
    }


def subject_summary(gallery: Gallery, s: Subject) -> dict[str, Any]:
    return {
        "subject_id": s.id,
        "subject": s.display_name,
        "templates": len(gallery.templates(s.id)),
    }


def subject_dict(gallery: Gallery, subject: Subject) -> dict[str, Any]:
    templates = gallery.templates(subject.id)
    return {
        "subject_id": subject.id,
        "subject": subject.display_name,
        "external_id": subject.external_id,
        "created_at": subject.created_at.isoformat(),
        "templates": len(templates),
        "template_ids": [t.id for t in templates],
        "packs": sorted({t.pack for t in templates}),
        "consents": [consent_dict(c) for c in gallery.consents(subject.id)],
    }
