"""facegate: privacy-first face recognition.

The public surface is ``__all__``; everything else is internal and may change. The heavy entry
points (``FaceEngine``, ``Gallery``, ``decode``) are imported lazily, so ``import facegate``
loads no model and no native library.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from facegate.errors import FacegateError
from facegate.types import (
    BBox,
    DetectResult,
    Embedding,
    Face,
    Landmarks,
    OperatingPoint,
    VerifyResult,
)

__version__ = "0.1.0"

_LAZY = {
    "FaceEngine": "facegate.pipeline.engine",
    "Gallery": "facegate.gallery.service",
    "decode": "facegate.imageio",
}

__all__ = [
    "BBox",
    "DetectResult",
    "Embedding",
    "Face",
    "FaceEngine",
    "FacegateError",
    "Gallery",
    "Landmarks",
    "OperatingPoint",
    "VerifyResult",
    "__version__",
    "decode",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facegate' has no attribute {name!r}")
