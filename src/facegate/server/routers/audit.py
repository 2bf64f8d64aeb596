"""``GET /v1/audit``: the tamper-evident audit chain, newest first, paged; and its check.

An admin key sees every record; any other key sees the records it made. Records hold ids and
keyed pseudonyms of subject ids (``subject_refs``), never images, embeddings or names; each is
linked to the one before by an HMAC whose key is derived from the master key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from facegate.errors import PermissionDeniedError
from facegate.privacy.audit import parse_anchor
from facegate.server.deps import AdminKey, AnyKey, ServicesDep
from facegate.server.keys import ApiKey

router = APIRouter(prefix="/v1", tags=["audit"])


def _reads_all(key: ApiKey) -> bool:
    """Only an admin key for any purpose (``*``) reads other keys' records."""
    return key.is_admin and key.any_purpose


@router.get("/audit")
def audit(
    key: AnyKey,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Records with a lower seq.")
    ] = None,
    subject_id: str | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """Who did what, with which key, for which purpose, about which (pseudonymised) subjects."""
    limit = min(limit, services.settings.server.audit_page_size)
    records = services.gallery.audit.records(
        limit=limit,
        before=before,
        key_id=None if _reads_all(key) else key.id,
        subject_id=subject_id,
        operation=operation,
        newest_first=True,
    )
    rows = [r.to_dict() for r in records]
    return {
        "kind": "audit-chain",
        "tamper_evident": True,
        "records": rows,
        "next_before": rows[-1]["seq"] if len(rows) == limit else None,
    }


@router.get("/audit/verify")
async def verify_chain(
    key: AdminKey,
    services: ServicesDep,
    anchor: Annotated[
        str | None, Query(description="SEQ:MAC of a head kept outside the database.")
    ] = None,
) -> dict[str, Any]:
    """Walk the whole chain: ``ok``, or the first bad record and what is wrong with it."""
    if not _reads_all(key):
        raise PermissionDeniedError("only an admin key for any purpose (*) reads the whole chain")
    expected = parse_anchor(anchor) if anchor else None
    check = await run_in_threadpool(services.gallery.audit.verify, expected)
    return check.to_dict()
