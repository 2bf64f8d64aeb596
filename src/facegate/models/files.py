"""Pinned model files: SHA-256 checks, and the dlib pack's files.

Every file a pack loads is pinned by SHA-256 in the pack's manifest
(:mod:`facegate.models.manifest`); :func:`check_file` checks a file against its pin before
anything loads it. :func:`model_path` finds a dlib pack file in the installed
``face_recognition_models`` package (without importing it: its ``__init__`` needs
``pkg_resources``, which new setuptools releases drop) and checks the hash before anything loads
it. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from pathlib import Path

from facegate.errors import ModelChecksumError, ModelFileMissingError
from facegate.models.manifest import shipped_packs
from facegate.models.specs import ModelFile

logger = logging.getLogger(__name__)

FIX_HINT = "reinstall it with: pip install --force-reinstall face_recognition_models==0.3.0"


DLIB_PACK = "dlib"

# The dlib pack's files, from its manifest (facegate/models/packs/dlib.json).
DLIB_FILES: dict[str, ModelFile] = {f.name: f for f in shipped_packs()[DLIB_PACK].files}

_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def package_dir(package: str = "face_recognition_models") -> Path:
    """The installed package's model folder, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissingError(f"the package {package!r} is not installed; {FIX_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, expected_sha256: str, fix_hint: str = FIX_HINT) -> Path:
    """Raise unless ``path`` exists and hashes to ``expected_sha256`` (cached per file state).

    ``fix_hint`` ends the error message: how to get the right file.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelFileMissingError(f"model file missing: {path}; {fix_hint}") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _verified.get(key)
    if known is None:
        known = sha256_file(path)
        with _lock:
            _verified[key] = known
    if known != expected_sha256:
        raise ModelChecksumError(
            f"model file {path.name} has SHA-256 {known[:16]}..., expected "
            f"{expected_sha256[:16]}...; the file is damaged or a different version: {fix_hint}"
        )
    return path


def model_path(name: str) -> Path:
    """The verified path of a pinned model file."""
    entry = DLIB_FILES[name]
    return check_file(package_dir(entry.package or "face_recognition_models") / name, entry.sha256)


def file_status(name: str) -> str:
    """``ok``, ``missing`` or ``checksum mismatch`` for a pinned file (for ``models list``)."""
    try:
        model_path(name)
    except ModelFileMissingError:
        return "missing"
    except ModelChecksumError:
        return "checksum mismatch"
    return "ok"
