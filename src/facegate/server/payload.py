"""Request bodies: images as multipart file fields or as base64 strings in a JSON object.

An endpoint names its image fields (``image``; ``image_a`` and ``image_b`` for verify; ``image``
repeated or ``images`` for enrolment) and a pydantic model for its other fields. Multipart
values arrive as strings and are converted by the model (``"5"`` -> 5). A base64 string may
carry a ``data:image/...;base64,`` prefix (what a browser's ``toDataURL`` gives).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from facegate.errors import InvalidRequestError, UnsupportedMediaError

M = TypeVar("M", bound=BaseModel)

MULTIPART: Final = "multipart/form-data"
JSON: Final = "application/json"
_MAX_IMAGES: Final = 32


@dataclass(slots=True)
class Payload:
    """The parsed body: plain fields, and image bytes by field name."""

    fields: dict[str, Any] = field(default_factory=dict)
    images: dict[str, list[bytes]] = field(default_factory=dict)

    def image(self, name: str) -> bytes:
        found = self.images.get(name)
        if not found:
            raise InvalidRequestError(
                f"missing image field {name!r}", [{"loc": ["body", name], "msg": "required"}]
            )
        if len(found) > 1:
            raise InvalidRequestError(f"field {name!r} takes one image, got {len(found)}")
        return found[0]

    def all_images(self, *names: str) -> list[bytes]:
        return [img for name in names for img in self.images.get(name, [])]

    def model(self, cls: type[M]) -> M:
        try:
            return cls.model_validate(self.fields)
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(p) for p in x['loc']) or 'body'}: {x['msg']}"
                for x in exc.errors()[:3]
            )
            errs: list[dict[str, object]] = [
                {"loc": ["body", *x["loc"]], "msg": x["msg"]} for x in exc.errors()
            ]
            raise InvalidRequestError(f"invalid field(s): {where}", errs) from exc


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_payload(request: Request, image_fields: tuple[str, ...]) -> Payload:
    """Parse a multipart or JSON body; 415 for any other content type."""
    kind = media_type(request)
    if kind == MULTIPART:
        return await _multipart(request, image_fields)
    if kind == JSON:
        return _json(await request.body(), image_fields)
    raise UnsupportedMediaError(
        f"content type {kind or '(none)'!r} not accepted: send {MULTIPART} or {JSON}"
    )


async def _multipart(request: Request, image_fields: tuple[str, ...]) -> Payload:
    out = Payload()
    async with request.form(max_files=_MAX_IMAGES, max_fields=64) as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in image_fields:
                    raise InvalidRequestError(f"unexpected file field {name!r}")
                out.images.setdefault(name, []).append(await value.read())
            elif name in image_fields:
                out.images.setdefault(name, []).append(_b64(value, name))
            else:
                out.fields[name] = value
    return out


def _json(body: bytes, image_fields: tuple[str, ...]) -> Payload:
    try:
        doc = json.loads(body)
    except RecursionError as exc:
        raise InvalidRequestError("body is not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise InvalidRequestError(f"body is not valid JSON: {_first_line(exc)}") from exc
    if not isinstance(doc, dict):
        raise InvalidRequestError("the JSON body must be an object")
    out = Payload()
    for name, value in doc.items():
        if name not in image_fields:
            out.fields[name] = value
            continue
        values = value if isinstance(value, list) else [value]
        if len(values) > _MAX_IMAGES:
            raise InvalidRequestError(f"at most {_MAX_IMAGES} images per request")
        out.images[name] = [_b64(v, name) for v in values]
    return out


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequestError(f"field {name!r} must be a base64 string")
    text = value
    if value.startswith("data:"):
        header, comma, text = value.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidRequestError(
                f"field {name!r} is a data: URL without ';base64,' before the data"
            )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"field {name!r} is not valid base64") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
