"""OpenAPI request bodies for endpoints that read multipart or JSON themselves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def body(model: type[BaseModel], images: dict[str, str] | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting a body as multipart (files) or JSON (base64 strings)."""
    schema = model.model_json_schema()
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    multipart = dict(props)
    as_json = dict(props)
    for name, description in (images or {}).items():
        multipart[name] = {"type": "string", "format": "binary", "description": description}
        as_json[name] = {"type": "string", "format": "byte", "description": description}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": multipart, "required": required}
                },
                "application/json": {
                    "schema": {"type": "object", "properties": as_json, "required": required}
                },
            },
        }
    }
