"""Purposes as configuration: what each purpose is for, on which legal basis, for how long.

A purposes file (TOML or JSON) lists purposes; ``facegate privacy purposes apply FILE`` or
``PUT /v1/purposes/{name}`` writes them to the store::

    [[purpose]]
    name = "access:block-7"
    description = "Open the door of block 7 for residents who enrolled"
    legal_basis = "explicit-consent"          # GDPR art. 9(2)(a); PIPL art. 29; BIPA 15(b)(3)
    retention_days = 365                      # templates older than this are swept
    keep_images = false                       # facegate never stores images; declared policy
    non_face_alternative = true               # a key fob or PIN must be offered as well
    scopes = ["identify", "enroll"]           # API-key scopes that may act for it
    liveness_required = true                  # verify and identify need a passed liveness
                                              # session (default: true for payment and
                                              # registration purposes; enrolment, which may
                                              # be from a document photo, takes one as
                                              # optional evidence)

A purpose whose legal basis is not consent sets ``consent_required = false`` and must name the
law in ``legal_basis_reference``; reports list such purposes.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facegate.errors import ConfigError
from facegate.store.protocol import Purpose
from facegate.store.schema import utcnow

PURPOSE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
CONSENT_BASIS = "explicit-consent"
SCOPES = ("detect", "verify", "identify", "enroll", "admin")


def check_purpose_name(name: str) -> str:
    """``name`` if valid: 1-64 of lower-case letters, digits, ``_ . : -`` (e.g. ``access:b-7``)."""
    if not PURPOSE_NAME.match(name):
        raise ConfigError(
            f"bad purpose name {name!r}: use 1-64 lower-case letters, digits, '_', '.', ':', '-' "
            "(starting with a letter or digit)"
        )
    return name


class PurposeConfig(BaseModel):
    """One purpose as written in a purposes file or sent to ``PUT /v1/purposes/{name}``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="Name", pattern=PURPOSE_NAME.pattern)
    description: str = Field("", max_length=2000, title="What the purpose is for")
    legal_basis: str = Field(
        CONSENT_BASIS,
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        title="Legal basis",
        description="'explicit-consent', or the basis a law gives (e.g. 'employment-law', "
        "'substantial-public-interest'), named in legal_basis_reference.",
    )
    legal_basis_reference: str = Field("", max_length=2000, title="The law or clause relied on")
    consent_required: bool = Field(
        True,
        title="Consent required",
        description="False only when the legal basis is not consent; reports show it.",
    )
    retention_days: int | None = Field(
        None, ge=1, le=36500, title="Template retention (days after enrolment)"
    )
    keep_images: bool = Field(False, title="Images may be kept (declared; facegate stores none)")
    non_face_alternative: bool = Field(True, title="A non-face alternative must be offered")
    scopes: list[str] = Field(default_factory=list, title="API-key scopes that may use it")
    liveness_required: bool | None = Field(
        None,
        title="Liveness required",
        description="Verify and identify need a passed liveness session (enrolment takes one "
        "as optional evidence). Unset: required for payment and registration purposes.",
    )
    watchlist: bool = Field(
        False,
        title="Watchlist",
        description="May be searched in real time from a video stream (only where the law "
        "allows it); every hit is a candidate until two different people confirm it.",
    )

    @model_validator(mode="after")
    def _basis_is_consistent(self) -> PurposeConfig:
        unknown = sorted(set(self.scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}: choose from {', '.join(SCOPES)}")
        if not self.consent_required:
            if self.legal_basis == CONSENT_BASIS:
                raise ValueError("consent_required = false needs a legal basis other than consent")
            if not self.legal_basis_reference.strip():
                raise ValueError(
                    "consent_required = false needs legal_basis_reference: the law relied on"
                )
        return self

    def to_purpose(self) -> Purpose:
        return Purpose(
            self.name,
            self.description,
            utcnow(),
            self.legal_basis,
            self.legal_basis_reference,
            self.consent_required,
            self.retention_days,
            self.keep_images,
            self.non_face_alternative,
            tuple(sorted(set(self.scopes))),
            self.liveness_required,
            self.watchlist,
        )


LIVENESS_BY_DEFAULT = ("payment", "payments", "pay", "registration", "register", "kyc")


def liveness_required(purpose: Purpose) -> bool:
    """Whether the purpose needs a passed liveness session: its own setting, else true for
    payment and registration purposes (names whose first part, before ``:``, ``-`` or ``.``,
    is one of :data:`LIVENESS_BY_DEFAULT`, e.g. ``payment``, ``payment:till-3``,
    ``registration-sim``)."""
    if purpose.liveness_required is not None:
        return purpose.liveness_required
    head = re.split(r"[:.\-_]", purpose.name, maxsplit=1)[0]
    return head in LIVENESS_BY_DEFAULT


def purpose_dict(p: Purpose) -> dict[str, Any]:
    """The JSON shape of a purpose and its policy."""
    return {
        "name": p.name,
        "description": p.description,
        "legal_basis": p.legal_basis,
        "legal_basis_reference": p.legal_basis_reference,
        "consent_required": p.consent_required,
        "retention_days": p.retention_days,
        "keep_images": p.keep_images,
        "non_face_alternative": p.non_face_alternative,
        "scopes": list(p.scopes),
        "liveness_required": liveness_required(p),
        "watchlist": p.watchlist,
        "created_at": p.created_at.isoformat(),
    }


def parse_purposes(data: Any) -> list[PurposeConfig]:
    """Validate ``{"purpose": [...]}`` (or a bare list) into purpose configs."""
    items = data.get("purpose", data.get("purposes")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ConfigError("a purposes file needs a non-empty list under 'purpose'")
    out: list[PurposeConfig] = []
    for position, item in enumerate(items):
        try:
            out.append(PurposeConfig.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "purpose"
            raise ConfigError(f"purpose {position + 1}: {where}: {first['msg']}") from exc
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ConfigError("a purpose is defined twice in the purposes file")
    return out


def load_purposes(path: Path) -> list[PurposeConfig]:
    """Read a TOML (``.toml``) or JSON purposes file."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    return parse_purposes(data)
