"""The OpenAPI document: request bodies read by the endpoints themselves, the bearer scheme,
and the problem+json responses each operation can give.

``body`` documents a body as multipart (files) or JSON (base64 strings), with the image fields
it needs. ``install`` replaces FastAPI's generator with one that adds, to every ``/v1``
operation, the ``bearer`` security scheme and its problem responses (401, 403, 422; 404 with a
path parameter; 409 for writes and consented searches; 413 and 415 with a body; 503 for
inference), all as ``application/problem+json`` with the ``Problem`` schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from facegate.server.problems import PROBLEM_JSON

PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<name> (GET it for a description)"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, in one line."},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": ["string", "null"], "description": "As in X-Request-ID."},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Bad fields."},
        "failures": {"type": "array", "items": {"type": "object"}, "description": "Refused."},
    },
}

REASONS: Final = {
    401: "No key, or an unknown or revoked key.",
    403: "Outside the key's scopes or purposes, or the purpose's policy.",
    404: "No such subject, template, purpose or key (or one this key may not see).",
    409: "No active consent for the purpose, or a conflicting state.",
    413: "Body over the size limit, or an image over the pixel limit.",
    415: "Not multipart/form-data or JSON, or a file that is not a supported image.",
    422: "Invalid fields, a corrupt image, or an enrolment refused.",
    503: "The inference queue is full or the wait for a worker ran out; retry later.",
}
_INFERENCE: Final = ("/v1/detect", "/v1/verify", "/v1/identify", "/faces")


def body(
    model: type[BaseModel],
    images: dict[str, str] | None = None,
    need: Sequence[Sequence[str]] = (),
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """``openapi_extra`` documenting a body as multipart (files) or JSON (base64 strings).

    ``need`` lists the sets of image fields that satisfy the endpoint: one set is required
    outright; several are alternatives (``anyOf``). ``exclude`` drops fields that come from
    the path instead of the body.
    """
    schema = model.model_json_schema()
    props: dict[str, Any] = {
        k: v for k, v in schema.get("properties", {}).items() if k not in exclude
    }
    required = [k for k in schema.get("required", []) if k not in exclude]
    multipart = dict(props)
    as_json = dict(props)
    for name, description in (images or {}).items():
        multipart[name] = {"type": "string", "format": "binary", "description": description}
        as_json[name] = {"type": "string", "format": "byte", "description": description}
    content = {}
    for kind, fields in (("multipart/form-data", multipart), ("application/json", as_json)):
        doc: dict[str, Any] = {"type": "object", "properties": fields, "required": list(required)}
        if len(need) == 1:
            doc["required"] += list(need[0])
        elif need:
            doc["anyOf"] = [{"required": list(names)} for names in need]
        if "$defs" in schema:
            doc["$defs"] = schema["$defs"]
        content[kind] = {"schema": doc}
    return {"requestBody": {"required": True, "content": content}}


def install(app: FastAPI) -> None:
    """Generate the app's OpenAPI document once, with security and problem responses."""

    def generate() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _decorate(spec)
        return app.openapi_schema

    app.openapi = generate  # type: ignore[method-assign]


def _decorate(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: fg_..."}
    }
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            codes = _problem_codes(path, method, operation)
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses[str(code)] = {
                    "description": REASONS[code],
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
    return spec


def _problem_codes(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    codes = [422] if operation.get("parameters") or "requestBody" in operation else []
    if path == "/readyz":
        return [503]
    if "{" in path:
        codes.append(404)
    if not path.startswith("/v1/"):
        return sorted(set(codes))
    codes += [401, 403]
    if method != "get" or path in ("/v1/verify", "/v1/identify"):
        codes.append(409)
    if "requestBody" in operation:
        codes += [413, 415]
    if any(path.endswith(end) for end in _INFERENCE):
        codes.append(503)
    return sorted(set(codes))
