"""Subjects, their consents and faces: ``/v1/subjects[/{id}[/faces|/consents|/export]]``.

A key bound to some purposes (not ``*``) sees a subject only if the subject has no consent yet
or has (or had) a consent for one of those purposes; other subjects read as 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from facegate.errors import PermissionDeniedError, SubjectNotFoundError
from facegate.gallery.export import export_subject as subject_access_export
from facegate.gallery.serialize import consent_dict, subject_dict, subject_summary
from facegate.server import openapi
from facegate.server.deps import AdminKey, EnrollKey, ServicesDep, check_purpose
from facegate.server.keys import ApiKey
from facegate.server.payload import read_payload
from facegate.server.services import Services, actor_of
from facegate.server.workers import ServerEngine

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

PurposeField = Field(min_length=1, max_length=64, description="The purpose, e.g. 'payment'.")


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str = Field(min_length=1, max_length=255, pattern=r"\S")
    external_id: str | None = Field(None, min_length=1, max_length=255)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = PurposeField
    evidence: str = Field(
        "", max_length=20_000, description="A reference to the consent (form id, ticket...)."
    )
    text: str | None = Field(
        None, max_length=20_000, description="The exact consent text shown to the person."
    )
    text_version: str | None = Field(None, max_length=64, description="That text's version.")
    method: str | None = Field(
        None, max_length=64, description="How it was given: signed-form, kiosk, app-checkbox..."
    )
    expires_at: datetime | None = Field(None, description="ISO 8601; UTC if no zone is given.")

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Stored in UTC: a time whose UTC equivalent is before year 1 or after 9999 is refused."""
        if value is None:
            return None
        try:
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except OverflowError:
            raise ValueError("date out of range once converted to UTC (years 1 to 9999)") from None

    @model_validator(mode="after")
    def _has_evidence(self) -> Self:
        if not self.evidence.strip() and not (self.text or "").strip():
            raise ValueError("consent needs evidence: 'text' (the text shown) or 'evidence'")
        return self


class FacesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = PurposeField
    skip_failures: bool = Field(False, description="Store the good images, report the rest.")
    liveness_session_id: str | None = Field(
        None, max_length=64, description="A passed liveness session (needed by some purposes)."
    )


def _held_for(services: Services, subject_id: str) -> set[str]:
    """The purposes a subject is held for: its consents' and its templates' ("" for a
    template bound to no purpose, which only a key for any purpose may touch)."""
    gallery = services.gallery
    return {c.purpose for c in gallery.consents(subject_id)} | {
        t.purpose or "" for t in gallery.templates(subject_id)
    }


def _visible(services: Services, key: ApiKey, subject_id: str) -> None:
    """404, as for an unknown id, unless the subject is held for one of the key's purposes
    (or for none yet)."""
    services.gallery.store.get_subject(subject_id)
    if key.any_purpose:
        return
    held = _held_for(services, subject_id)
    if held and not any(key.allows_purpose(p) for p in held if p):
        raise SubjectNotFoundError(f"no subject with id {subject_id!r}")


def _within_key(services: Services, key: ApiKey, subject_id: str) -> None:
    """For an act on the whole subject (erase, export): 404 unless visible, 403 when the
    subject is also held for a purpose the key is not bound to (only a key for any purpose,
    ``*``, acts across purposes)."""
    _visible(services, key, subject_id)
    if key.any_purpose:
        return
    if any(not p or not key.allows_purpose(p) for p in _held_for(services, subject_id)):
        raise PermissionDeniedError(
            "the subject is also held for purposes this API key is not bound to; "
            "only a key for any purpose (*) acts across purposes"
        )


@router.post("", status_code=201, openapi_extra=openapi.body(SubjectIn))
async def create_subject(request: Request, key: EnrollKey, services: ServicesDep) -> dict[str, Any]:
    """Create a subject (no consent, no faces yet)."""
    fields = (await read_payload(request, ())).model(SubjectIn)

    def create() -> dict[str, Any]:
        subject = services.gallery.create_subject(fields.display_name, fields.external_id)
        return subject_dict(services.gallery, subject)

    return await run_in_threadpool(create)


@router.get("")
def list_subjects(key: EnrollKey, services: ServicesDep, purpose: str | None = None) -> Any:
    """Subjects (with an active consent for ``purpose``, if given)."""
    gallery = services.gallery
    if purpose is not None or key.any_purpose:
        if purpose is not None and not key.allows_purpose(purpose):
            return {"subjects": []}
        found = gallery.subjects(purpose)
    else:
        by_id = {s.id: s for p in sorted(key.purposes) for s in _quiet_subjects(services, p)}
        found = sorted(by_id.values(), key=lambda s: s.row)
    return {"subjects": [subject_summary(gallery, s) for s in found]}


def _quiet_subjects(services: Services, purpose: str) -> list[Any]:
    names = {p.name for p in services.gallery.store.list_purposes()}
    return services.gallery.subjects(purpose) if purpose in names else []


@router.get("/{subject_id}")
def get_subject(subject_id: str, key: EnrollKey, services: ServicesDep) -> dict[str, Any]:
    """One subject: consents with their evidence, template count (never the embeddings)."""
    _visible(services, key, subject_id)
    return subject_dict(services.gallery, services.gallery.store.get_subject(subject_id))


@router.delete("/{subject_id}")
def erase_subject(
    subject_id: str, request: Request, key: AdminKey, services: ServicesDep
) -> dict[str, Any]:
    """Erase for good: records, templates, and the data key that could decrypt them."""
    request.state.operation = ("erase", None)
    _within_key(services, key, subject_id)
    services.gallery.erase(subject_id, actor=actor_of(request, key))
    return {"erased": subject_id}


@router.delete("/{subject_id}/templates/{template_id}")
def erase_template(
    subject_id: str, template_id: int, request: Request, key: AdminKey, services: ServicesDep
) -> dict[str, Any]:
    """Erase one template of the subject (the subject and its other templates stay)."""
    request.state.operation = ("erase.template", None)
    _visible(services, key, subject_id)
    found = [t for t in services.gallery.templates(subject_id) if t.id == template_id]
    if not found:
        raise SubjectNotFoundError(f"subject {subject_id} has no template {template_id}")
    if not key.any_purpose and not (found[0].purpose and key.allows_purpose(found[0].purpose)):
        raise SubjectNotFoundError(f"subject {subject_id} has no template {template_id}")
    services.gallery.erase_template(template_id, actor=actor_of(request, key))
    return {"erased_template": template_id, "subject_id": subject_id}


_FACES = {
    "image": "A photo (repeat the field for several).",
    "images": "Photos (in JSON: a list of base64 strings).",
}


@router.post(
    "/{subject_id}/faces",
    openapi_extra=openapi.body(FacesIn, _FACES, [("image",), ("images",)]),
)
async def enroll_faces(
    subject_id: str, request: Request, key: EnrollKey, services: ServicesDep
) -> dict[str, Any]:
    """Enrol one template per photo (exactly one usable face each) for a consented purpose."""
    payload = await read_payload(request, ("image", "images"))
    fields = payload.model(FacesIn)
    check_purpose(request, key, "enroll", fields.purpose)
    await run_in_threadpool(_visible, services, key, subject_id)
    images: list[Any] = payload.all_images("image", "images")
    actor = actor_of(request, key)
    evidence = (  # enrolment may be from a document photo: liveness is optional evidence
        await run_in_threadpool(services.liveness.spend, fields.liveness_session_id, key.id)
        if fields.liveness_session_id is not None
        else None
    )

    def run(_: ServerEngine) -> dict[str, Any]:
        result = services.gallery.enroll(
            subject_id,
            images,
            fields.purpose,
            skip_failures=fields.skip_failures,
            actor=actor,
            liveness=evidence,
        )
        return result.to_dict()

    result = await services.pool.run(run)
    services.metrics.faces.labels("enroll").inc(len(result["added"]))
    return result


@router.post("/{subject_id}/consents", status_code=201, openapi_extra=openapi.body(ConsentIn))
async def grant_consent(
    subject_id: str, request: Request, key: EnrollKey, services: ServicesDep
) -> dict[str, Any]:
    """Record consent for a purpose with its evidence: the exact text shown, its version, the
    method; the calling key is recorded too. Creates the purpose (default policy) if new."""
    fields = (await read_payload(request, ())).model(ConsentIn)
    check_purpose(request, key, "consent.grant", fields.purpose)
    until = fields.expires_at
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)

    def grant() -> dict[str, Any]:
        _visible(services, key, subject_id)
        services.gallery.add_purpose(fields.purpose)
        consent = services.gallery.grant_consent(
            subject_id,
            fields.purpose,
            fields.evidence,
            until,
            text=fields.text,
            text_version=fields.text_version,
            method=fields.method,
            actor=actor_of(request, key),
        )
        return {"subject_id": subject_id, **consent_dict(consent)}

    return await run_in_threadpool(grant)


@router.delete("/{subject_id}/consents/{purpose}")
def revoke_consent(
    subject_id: str, purpose: str, request: Request, key: EnrollKey, services: ServicesDep
) -> dict[str, Any]:
    """Withdraw consent; the subject leaves that purpose's searches at once."""
    check_purpose(request, key, "consent.revoke", purpose)
    _visible(services, key, subject_id)
    changed = services.gallery.revoke_consent(subject_id, purpose, actor=actor_of(request, key))
    return {"subject_id": subject_id, "purpose": purpose, "revoked": changed}


@router.get("/{subject_id}/export")
def export_subject(
    subject_id: str, request: Request, key: AdminKey, services: ServicesDep
) -> dict[str, Any]:
    """Everything held about a subject: record, consents with evidence, purpose policies,
    template metadata, and every audit record that names the subject."""
    request.state.operation = ("export", None)
    _within_key(services, key, subject_id)
    return subject_access_export(services.gallery, subject_id, actor_of(request, key))
