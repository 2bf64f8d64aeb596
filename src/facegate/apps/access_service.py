"""Access control as a workflow over the gallery: sites, schedules, visitor passes, passages.

>>> control = AccessControl(gallery)
>>> site, secret = control.define_site("block-7", webhook_url="https://door.local/hook")
>>> control.add_window("block-7", "mon-fri 07:00-19:00")
>>> control.add_credential("block-7", resident.id, "card", "04:A3:2B:91")
>>> control.check_face("block-7", "camera.jpg").open
>>> control.check_credential("block-7", "card", "04:A3:2B:91").open   # the alternative

A passage by face searches only the site's purpose (people who consented for that site), by
the gallery's audited ``identify``; the door decision (:func:`facegate.apps.access.decide_face`)
is then a decision record (app ``access``, outcome ``open`` or ``deny``) committed with its audit
record, and goes to the site's door webhook, signed. A card or PIN gets the same schedule and
the same kind of record, with ``method`` ``card`` or ``pin``: choosing it costs nothing.

A visitor pass is a consent with an expiry: the visitor becomes a subject with a consent for the
site's purpose that ends after the pass's hours, and the photo taken at the desk is enrolled;
after the expiry the visitor is a stranger to the gate, at once, and the retention sweep
deletes the template. No face is processed for a site whose purpose has no notice.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facegate.apps.access import (
    AccessDecision,
    SeenFace,
    Site,
    Window,
    check_site_name,
    decide_credential,
    decide_face,
    site_purpose,
)
from facegate.apps.access_store import AccessStore
from facegate.apps.decisions import Decision, DecisionLog
from facegate.apps.door import DoorWebhooks
from facegate.apps.hashing import image_sha256
from facegate.apps.notices import require_notice
from facegate.errors import (
    AppRecordNotFoundError,
    ConfigError,
    InvalidRequestError,
    PurposeNotFoundError,
)
from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource
from facegate.liveness.evidence import LivenessEvidence
from facegate.privacy.audit import Actor, AuditEvent
from facegate.store.protocol import Subject
from facegate.store.sql import SqlStore

MAX_PASS_HOURS = 24 * 31


@dataclass(frozen=True, slots=True)
class VisitorPass:
    site: str
    subject: Subject
    expires_at: datetime
    templates: int


class AccessControl:
    """Sites, schedules, credentials, visitor passes and door decisions for one gallery."""

    def __init__(
        self,
        gallery: Gallery,
        decisions: DecisionLog | None = None,
        webhooks: DoorWebhooks | None = None,
    ) -> None:
        store = gallery.store
        if not isinstance(store, SqlStore):
            raise ConfigError("access control needs the SQL store")
        self.gallery = gallery
        self.clock = store.clock
        self.store = AccessStore(store.transactions, store.master_key, store.clock)
        self.decisions = decisions or DecisionLog(gallery.audit, store.clock)
        self.webhooks = webhooks or DoorWebhooks()

    def close(self) -> None:
        self.webhooks.close()

    # configuration

    def define_site(
        self,
        name: str,
        *,
        purpose: str | None = None,
        description: str = "",
        timezone: str = "UTC",
        webhook_url: str | None = None,
        actor: Actor | None = None,
    ) -> tuple[Site, str | None]:
        """Create or update a site (and its purpose, if new); returns the site and, when it
        has a webhook, the new signing secret (shown once; every call makes a new one)."""
        check_site_name(name)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidRequestError(f"unknown time zone {timezone!r}") from None
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise InvalidRequestError("a webhook URL must be http:// or https://")
        purpose = purpose or site_purpose(name)
        try:
            self.gallery.store.get_purpose(purpose)
        except PurposeNotFoundError:
            self.gallery.add_purpose(purpose, description or f"door of site {name}")
        secret = secrets.token_urlsafe(32) if webhook_url else None
        site = Site(name, purpose, description, timezone, webhook_url)
        with self.store.tx.write():
            saved = self.store.put_site(site, secret.encode() if secret else None)
            hook = "webhook on" if webhook_url else "no webhook"
            event = AuditEvent("access.site", purpose, (), f"site {name} defined; {hook}")
            self.gallery.record(event, actor)
        return saved, secret

    def add_window(
        self, site: str, spec: str, subject_id: str | None = None, actor: Actor | None = None
    ) -> int:
        """Add a schedule window (``"mon-fri 07:00-19:00"``) for one subject or everyone."""
        window = Window.parse(spec, subject_id)
        found = self.store.get_site(site)
        row = self.gallery.store.get_subject(subject_id).row if subject_id else None
        ids = (subject_id,) if subject_id else ()
        with self.store.tx.write():
            window_id = self.store.add_window(site, window, row)
            event = AuditEvent("access.schedule", found.purpose, ids, f"window {window.describe()}")
            self.gallery.record(event, actor)
        return window_id

    def add_credential(
        self, site: str, subject_id: str, kind: str, value: str, actor: Actor | None = None
    ) -> int:
        """Give a subject a card or PIN at ``site`` (no face consent is needed for it)."""
        found = self.store.get_site(site)
        subject = self.gallery.store.get_subject(subject_id)
        with self.store.tx.write():
            cred = self.store.add_credential(site, subject.row, kind, value)
            event = AuditEvent("access.credential", found.purpose, (subject.id,), f"{kind} issued")
            self.gallery.record(event, actor)
        return cred

    def revoke_credential(self, site: str, credential_id: int, actor: Actor | None = None) -> None:
        """Withdraw a card or PIN (lost, or the person moved out): it stops working at once."""
        found = self.store.get_site(site)
        with self.store.tx.write():
            holder = self.store.remove_credential(site, credential_id)
            if holder is None:
                raise AppRecordNotFoundError(f"no credential {credential_id} at site {site!r}")
            subjects = self.gallery.store.subjects_by_row([holder])
            ids = tuple(s.id for s in subjects.values())
            event = AuditEvent("access.credential", found.purpose, ids, "revoked")
            self.gallery.record(event, actor)

    def issue_visitor_pass(
        self,
        site: str,
        display_name: str,
        images: Sequence[ImageSource],
        hours: float,
        *,
        host: str,
        consent_text: str,
        actor: Actor | None = None,
    ) -> VisitorPass:
        """A visitor's pass: subject, consent for the site expiring after ``hours``, photo."""
        if not 0 < hours <= MAX_PASS_HOURS:
            raise InvalidRequestError(
                f"a visitor pass lasts more than 0 and at most {MAX_PASS_HOURS} hours"
            )
        if not host.strip():
            raise InvalidRequestError("a visitor pass names the host who invited the visitor")
        found = self.store.get_site(site)
        require_notice(self.gallery, found.purpose)
        until = self.clock() + timedelta(hours=hours)
        subject = self.gallery.create_subject(display_name)
        self.gallery.grant_consent(
            subject.id,
            found.purpose,
            evidence=f"visitor pass, host {host.strip()[:200]}",
            expires_at=until,
            text=consent_text,
            method="visitor-pass",
            actor=actor,
        )
        try:
            enrolled = self.gallery.enroll(subject.id, images, found.purpose, actor=actor)
        except Exception:
            self.gallery.erase(subject.id, actor=actor)  # no half-made pass
            raise
        return VisitorPass(site, subject, until, len(enrolled.added))

    # passages

    def local_now(self, site: Site) -> datetime:
        return self.clock().astimezone(ZoneInfo(site.timezone))

    def check_face(
        self,
        site: str,
        image: ImageSource,
        *,
        actor: Actor | None = None,
        liveness: LivenessEvidence | None = None,
    ) -> AccessDecision:
        """The door decision for one camera image at ``site``."""
        found = self.store.get_site(site)
        require_notice(self.gallery, found.purpose)
        result = self.gallery.identify(image, found.purpose, 1, actor=actor, liveness=liveness)
        seen = [
            SeenFace(f.face.box.area, f.match.subject.id if f.match else None, f.similarity)
            for f in result.faces
        ]
        point = result.faces[0].operating_point.name if result.faces else None
        windows = [w for _, w in self.store.windows(site)]
        decision = decide_face(site, seen, windows, self.local_now(found), point)
        return self.conclude(found, decision, actor, liveness, image_sha256(image))

    def check_credential(
        self, site: str, kind: str, value: str, *, actor: Actor | None = None
    ) -> AccessDecision:
        """The door decision for a card or PIN (the alternative path) at ``site``."""
        found = self.store.get_site(site)
        holder = self.store.credential_subject(site, kind, value)
        windows = [w for _, w in self.store.windows(site)]
        decision = decide_credential(site, kind, holder, windows, self.local_now(found))
        return self.conclude(found, decision, actor, None)

    def conclude(
        self,
        site: Site,
        decision: AccessDecision,
        actor: Actor | None,
        liveness: LivenessEvidence | None,
        input_sha256: str | None = None,
    ) -> AccessDecision:
        """Record ``decision`` (with its audit record and the SHA-256 of the input image, never
        the image) and send it to the site's webhook."""
        detail: dict[str, str | int | float | bool | None] = {
            "site": site.name,
            "method": decision.method,
            "reason": decision.reason,
            "alerts": ",".join(decision.alerts),
            "faces": decision.faces,
        }
        if input_sha256 is not None:
            detail["image_sha256"] = input_sha256
        record = self.decisions.record(
            Decision(
                "access",
                site.purpose,
                "open" if decision.open else "deny",
                subject_id=decision.subject_id,
                operating_point=decision.operating_point,
                liveness=liveness.describe() if liveness is not None else None,
                score=decision.similarity,
                detail=detail,
            ),
            actor,
        )
        recorded = replace(
            decision, extra={"decision_id": record.id, "audit_seq": record.audit_seq}
        )
        secret = self.store.webhook_secret(site.name) if site.webhook_url else None
        if site.webhook_url and secret:
            seq = self.webhooks.send(site.webhook_url, secret, recorded)
            return replace(recorded, extra={**recorded.extra, "webhook_seq": seq})
        return recorded
