"""MTCNN's pinned weight files (facenet-pytorch 2.6.0, MIT) and their converted ONNX sessions.

``facegate models install mtcnn`` copies the three ``.pt`` files out of the pinned wheel into
``<home>/models/sources/`` (:mod:`facegate.models.pypi_files`). On first use each is checked
against its SHA-256, read without PyTorch (:mod:`facegate.models.torch_format`), converted
(:mod:`facegate.models.mtcnn_onnx`) and cached as ``<home>/models/<sha256>.mtcnn.onnx``
(temporary name, then rename); a cached file ONNX Runtime cannot load is converted again.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from facegate.errors import ModelConversionError
from facegate.models.pypi_files import WheelFile, install, installed_path, is_installed

logger = logging.getLogger(__name__)

INSTALL_NAME = "mtcnn"
_WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"
_LICENSE = "MIT (facenet-pytorch, Tim Esler; weights from the original MTCNN authors)"


def _pin(net: str, sha256: str, size: int, role: str) -> WheelFile:
    return WheelFile(
        "facenet-pytorch",
        "2.6.0",
        _WHEEL_SHA256,
        f"facenet_pytorch/data/{net}.pt",
        sha256,
        size,
        role,
        _LICENSE,
    )


FILES: dict[str, WheelFile] = {
    "pnet": _pin(
        "pnet",
        "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        28570,
        "MTCNN proposal network (P-Net)",
    ),
    "rnet": _pin(
        "rnet",
        "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        403147,
        "MTCNN refinement network (R-Net)",
    ),
    "onet": _pin(
        "onet",
        "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        1559269,
        "MTCNN output network (O-Net, 5 landmarks)",
    ),
}


def installed(home: Path) -> bool:
    return is_installed(list(FILES.values()), home)


def install_mtcnn(home: Path, wheel: Path | None = None) -> list[Path]:
    """Fetch (or take ``wheel``), check and install the three files, then convert them."""
    paths = install(list(FILES.values()), home, wheel)
    for net in FILES:
        onnx_path(net, home)
    return paths


def onnx_path(net: str, home: Path) -> Path:
    """The converted ONNX file of ``net``, converting the installed source on first use."""
    from facegate.models.mtcnn_onnx import build
    from facegate.models.torch_format import read_state_dict

    entry = FILES[net]
    source = installed_path(entry, home, INSTALL_NAME)
    target = Path(home) / "models" / f"{entry.sha256}.mtcnn.onnx"
    if target.is_file():
        return target
    logger.info("converting MTCNN %s to ONNX at %s", net, target)
    model = build(net, read_state_dict(source))
    fd, tmp = tempfile.mkstemp(prefix=f".{net}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(model.SerializeToString())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def session(net: str, home: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime session on MTCNN network ``net`` (P-Net without a memory arena;
    ``threads``: intra-op threads, default the process's setting)."""
    from facegate.models.onnx_runtime import create_session

    arena = net != "pnet"  # P-Net runs on every pyramid size
    path = onnx_path(net, home)
    try:
        return create_session(path, memory_arena=arena, threads=threads)
    except ModelConversionError:
        logger.warning("cached model %s could not be loaded; converting it again", path)
        path.unlink(missing_ok=True)
        return create_session(onnx_path(net, home), memory_arena=arena, threads=threads)
