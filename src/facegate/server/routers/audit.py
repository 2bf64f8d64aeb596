"""``GET /v1/audit``: the request log of biometric operations, newest first, paged.

An admin key sees every record; any other key sees the records it made. This is the plain
request log of :mod:`facegate.server.requestlog`, not yet a tamper-evident chain.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from facegate.server.deps import AnyKey, ServicesDep

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit")
def audit(
    key: AnyKey,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[int | None, Query(ge=1, description="Records with a lower id.")] = None,
    subject_id: str | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """Who did what, with which key, for which purpose, about which subject ids."""
    limit = min(limit, services.settings.server.audit_page_size)
    records = services.requests.page(
        limit=limit,
        before=before,
        key_id=None if key.is_admin else key.id,
        subject_id=subject_id,
        operation=operation,
    )
    return {
        "kind": "request-log",
        "tamper_evident": False,
        "records": records,
        "next_before": records[-1]["id"] if len(records) == limit else None,
    }
