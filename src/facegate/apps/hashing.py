"""The SHA-256 of a decision's input image: recorded instead of the image (EU AI Act 12(3))."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from facegate.imageio import ImageSource


def image_sha256(image: ImageSource) -> str:
    """SHA-256 of the bytes given (a file's bytes for a path, the pixels for an array)."""
    if isinstance(image, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(image)).hexdigest()
    if isinstance(image, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    return hashlib.sha256(Path(image).read_bytes()).hexdigest()
