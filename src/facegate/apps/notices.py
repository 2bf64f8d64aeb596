"""Per-purpose notices: what a person is told before their face is processed, and the sign.

A notice joins the purpose's policy (what it is for, legal basis, retention, liveness, whether
images are kept) with what only the operator can say (:class:`NoticeText`): who processes the
data, how to reach them, and how to refuse (the non-face path). Applications refuse to run a
purpose that has no notice (:func:`require_notice`), kiosk pages show it before the camera
starts, ``GET /v1/apps/notices/{purpose}`` returns it, and :func:`sign_html` renders the sign a
public place shows where faces are processed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facegate.errors import ApplicationError, InvalidRequestError
from facegate.privacy.audit import Actor, AuditEvent
from facegate.privacy.purposes import liveness_required
from facegate.store.protocol import Purpose
from facegate.store.schema import AppNoticeRow, utcnow

if TYPE_CHECKING:
    from facegate.gallery.service import Gallery

MAX_FIELD = 2000


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What the operator writes: the processor, a contact and how to refuse."""

    processor: str
    contact: str
    alternative: str

    def checked(self) -> NoticeText:
        for name in ("processor", "contact", "alternative"):
            value = getattr(self, name).strip()
            if not value or len(value) > MAX_FIELD:
                raise InvalidRequestError(f"the notice's {name} must be 1-{MAX_FIELD} characters")
        return NoticeText(self.processor.strip(), self.contact.strip(), self.alternative.strip())


@dataclass(frozen=True, slots=True)
class Notice:
    """The full notice of a purpose."""

    purpose: str
    description: str
    processor: str
    contact: str
    alternative: str
    legal_basis: str
    retention: str
    liveness_required: bool
    keep_images: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "description": self.description,
            "processor": self.processor,
            "contact": self.contact,
            "how_to_refuse": self.alternative,
            "legal_basis": self.legal_basis,
            "retention": self.retention,
            "liveness_required": self.liveness_required,
            "images_kept": self.keep_images,
            "text": self.text(),
        }

    def text(self) -> str:
        """The notice as plain sentences, for a kiosk screen or a receipt."""
        images = (
            "Images may be kept as the purpose's policy says."
            if self.keep_images
            else "No image is kept: only a face template, encrypted."
        )
        check = " A short liveness check comes first." if self.liveness_required else ""
        return (
            f"Your face is processed for: {self.description or self.purpose}. "
            f"Processor: {self.processor}. Legal basis: {self.legal_basis}. "
            f"Retention: {self.retention}. {images}{check} "
            f"You may refuse and be served another way, with no penalty: {self.alternative} "
            f"Questions, access or deletion: {self.contact}."
        )


def retention_text(days: int | None) -> str:
    if days is None:
        return "until you withdraw consent or ask for deletion"
    return f"{days} days after enrolment, or until you withdraw consent"


def _basis(purpose: Purpose) -> str:
    if purpose.consent_required:
        return "your explicit consent, which you may withdraw at any time"
    return f"{purpose.legal_basis} ({purpose.legal_basis_reference})"


def notice_of(purpose: Purpose, text: NoticeText) -> Notice:
    return Notice(
        purpose.name,
        purpose.description,
        text.processor,
        text.contact,
        text.alternative,
        _basis(purpose),
        retention_text(purpose.retention_days),
        liveness_required(purpose),
        purpose.keep_images,
    )


def set_notice(
    gallery: Gallery, purpose: str, text: NoticeText, actor: Actor | None = None
) -> Notice:
    """Create or replace the notice of ``purpose`` (audited as ``notice.define``)."""
    checked = text.checked()
    policy = gallery.store.get_purpose(purpose)
    with gallery.audit.transactions.write() as s:
        row = s.get(AppNoticeRow, purpose)
        if row is None:
            row = AppNoticeRow(purpose=purpose)
            s.add(row)
        row.processor, row.contact = checked.processor, checked.contact
        row.alternative, row.updated_at = checked.alternative, utcnow()
        gallery.audit.append(AuditEvent("notice.define", purpose, (), "notice set"), actor)
    return notice_of(policy, checked)


def get_notice(gallery: Gallery, purpose: str) -> Notice | None:
    """The notice of ``purpose``, or ``None`` when the operator has not written one."""
    policy = gallery.store.get_purpose(purpose)
    with gallery.audit.transactions.read() as s:
        row = s.get(AppNoticeRow, purpose)
        if row is None:
            return None
        return notice_of(policy, NoticeText(row.processor, row.contact, row.alternative))


def require_notice(gallery: Gallery, purpose: str) -> Notice:
    """The notice of ``purpose``; :class:`ApplicationError` when it has none (no notice, no
    face processing)."""
    notice = get_notice(gallery, purpose)
    if notice is None:
        raise ApplicationError(
            f"purpose {purpose!r} has no notice: set one (PUT /v1/apps/notices/{purpose} or "
            f"'facegate apps notice set {purpose}') before faces are processed for it"
        )
    return notice


def sign_text(notice: Notice) -> str:
    """The public-place sign as plain text (for printing on a label printer)."""
    lines = [
        "FACE RECOGNITION IN USE  /  人脸识别使用中",
        f"Purpose: {notice.description or notice.purpose}",
        f"Operated by: {notice.processor}",
        f"Retention: {notice.retention}",
        f"Do not want it? {notice.alternative}",
        f"Contact: {notice.contact}",
    ]
    return "\n".join(lines) + "\n"


def sign_html(notice: Notice) -> str:
    """The public-place sign as a printable HTML page (A4, large type, no external files)."""
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in (
            ("Purpose", notice.description or notice.purpose),
            ("Operated by", notice.processor),
            ("Retention", notice.retention),
            ("Do not want it?", notice.alternative),
            ("Contact", notice.contact),
        )
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Face recognition in use: {e(notice.purpose)}</title><style>"
        "body{font-family:sans-serif;margin:2cm}h1{font-size:40pt;margin:0 0 .3em}"
        "th{text-align:left;padding:.4em 1em .4em 0;vertical-align:top}"
        "td,th{font-size:18pt}</style></head><body>"
        "<h1>Face recognition in use</h1><p lang=zh style='font-size:28pt'>人脸识别使用中</p>"
        f"<table>{rows}</table></body></html>\n"
    )
