"""Console pages of their own (one feature each), served with the console's security headers.

- ``GET /liveness``: run a liveness session on the webcam (``static/liveness.html``).
- ``GET /streams``: start or watch a video stream with its tracks (``static/streams.html``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from facegate.server.routers.system import CONSOLE_HEADERS, STATIC

router = APIRouter(include_in_schema=False)


@router.get("/liveness")
def liveness_page() -> FileResponse:
    """The liveness check page."""
    return FileResponse(STATIC / "liveness.html", headers=CONSOLE_HEADERS)


@router.get("/streams")
def streams_page() -> FileResponse:
    """The stream view."""
    return FileResponse(STATIC / "streams.html", headers=CONSOLE_HEADERS)
