"""``POST /v1/streams``, ``GET /v1/streams[/{id}]``, ``GET /v1/streams/{id}/events`` (SSE),
``DELETE /v1/streams/{id}``: video streams tracked and identified on the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from facegate.errors import PermissionDeniedError, StreamNotFoundError
from facegate.server import openapi
from facegate.server.deps import IdentifyKey, ServicesDep, check_purpose
from facegate.server.keys import ApiKey
from facegate.server.payload import read_payload
from facegate.server.streams import StreamHandle, StreamManager, StreamRequest

router = APIRouter(prefix="/v1/streams", tags=["streams"])


def _manager(services: Any) -> StreamManager:
    manager: StreamManager = services.streams
    return manager


def _visible(handle: StreamHandle, key: ApiKey) -> StreamHandle:
    """404 for a stream the key may not see (its purpose is not the key's)."""
    if not key.allows_purpose(handle.purpose):
        raise StreamNotFoundError(f"no stream {handle.id!r}")
    return handle


@router.post("", status_code=201, openapi_extra=openapi.body(StreamRequest))
async def start_stream(request: Request, key: IdentifyKey, services: ServicesDep) -> Any:
    """Start tracking and identifying faces in a camera, stream URL or media file."""
    payload = await read_payload(request, ())
    wanted = payload.model(StreamRequest)
    check_purpose(request, key, "identify.stream", wanted.purpose)
    handle = await run_in_threadpool(_manager(services).start, wanted, key.id)
    return handle.to_dict()


@router.get("")
def list_streams(key: IdentifyKey, services: ServicesDep) -> dict[str, Any]:
    handles = [h for h in _manager(services).list() if key.allows_purpose(h.purpose)]
    return {"streams": [h.to_dict() for h in handles]}


@router.get("/{stream_id}")
def stream(stream_id: str, key: IdentifyKey, services: ServicesDep) -> dict[str, Any]:
    return _visible(_manager(services).get(stream_id), key).to_dict()


def _sse(handle: StreamHandle) -> Iterator[str]:
    for event in handle.hub.subscribe(timeout=1.0):
        yield f"id: {event.seq}\nevent: {event.type}\ndata: {event.to_json()}\n\n"
    yield f"event: end\ndata: {json.dumps(handle.to_dict())}\n\n"


@router.get("/{stream_id}/events", response_class=StreamingResponse)
def stream_events(stream_id: str, key: IdentifyKey, services: ServicesDep) -> StreamingResponse:
    """Server-Sent Events: every event of the stream from its start, then live; ``end`` last."""
    handle = _visible(_manager(services).get(stream_id), key)
    return StreamingResponse(
        _sse(handle),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{stream_id}/frame",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 204: {"description": "No frame yet."}},
)
def latest_frame(stream_id: str, key: IdentifyKey, services: ServicesDep) -> Response:
    """The stream's latest processed frame (JPEG); ``X-Facegate-Frame`` holds its index, time,
    size and tracks (ids, boxes, subject ids) as JSON. Only the latest frame is kept."""
    handle = _visible(_manager(services).get(stream_id), key)
    frame = handle.preview.latest()
    if frame is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    meta = {
        "index": frame.index,
        "timestamp": round(frame.timestamp, 3),
        "width": frame.width,
        "height": frame.height,
        "tracks": frame.tracks,
        "state": handle.state,
    }
    headers = {"Cache-Control": "no-store", "X-Facegate-Frame": json.dumps(meta)}
    return Response(frame.jpeg, media_type="image/jpeg", headers=headers)


@router.get("/{stream_id}/hits")
def watchlist_hits(stream_id: str, key: IdentifyKey, services: ServicesDep) -> dict[str, Any]:
    """The stream's watchlist hits: each a candidate until two different people confirm it."""
    handle = _visible(_manager(services).get(stream_id), key)
    return {"hits": [h.to_dict() for h in handle.hits.list()]}


@router.post("/{stream_id}/hits/{seq}/confirm")
async def confirm_hit(
    stream_id: str, seq: int, request: Request, key: IdentifyKey, services: ServicesDep
) -> dict[str, Any]:
    """Confirm a watchlist hit as the person this key belongs to (audited)."""
    manager = _manager(services)
    handle = _visible(manager.get(stream_id), key)
    request.state.operation = ("watchlist.confirm", handle.purpose)
    hit = await run_in_threadpool(manager.confirm, stream_id, seq, key.id)
    return hit.to_dict()


@router.delete("/{stream_id}")
async def stop_stream(stream_id: str, key: IdentifyKey, services: ServicesDep) -> Any:
    """Stop a stream; its summary."""
    manager = _manager(services)
    handle = _visible(manager.get(stream_id), key)
    if handle.key_id != key.id and not key.is_admin:
        raise PermissionDeniedError("only the key that started a stream (or admin) stops it")
    stopped = await run_in_threadpool(manager.stop, stream_id)
    return stopped.to_dict()
