"""Pinned model files and where to find them.

Every file a pack loads is listed here with its SHA-256. :func:`model_path` finds the file in
the installed ``face_recognition_models`` package (without importing it: its ``__init__`` needs
``pkg_resources``, which new setuptools releases drop) and checks the hash before anything loads
it. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from facegate.errors import ModelChecksumError, ModelFileMissingError

logger = logging.getLogger(__name__)

FIX_HINT = "reinstall it with: pip install --force-reinstall face_recognition_models==0.3.0"


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One pinned model file."""

    name: str
    sha256: str
    size: int
    role: str
    license: str
    package: str = "face_recognition_models"


DLIB_FILES: dict[str, ModelFile] = {
    f.name: f
    for f in (
        ModelFile(
            "dlib_face_recognition_resnet_model_v1.dat",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            22466066,
            "128-d face embedding (ResNet-29, 150x150 chip)",
            "CC0 / public domain (Davis King)",
        ),
        ModelFile(
            "mmod_human_face_detector.dat",
            "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
            729940,
            "CNN (MMOD) face detector",
            "CC0 / public domain (Davis King)",
        ),
        ModelFile(
            "shape_predictor_5_face_landmarks.dat",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            9150489,
            "5-point landmarks (eye corners, nose) for alignment",
            "CC0 / public domain (Davis King)",
        ),
        ModelFile(
            "shape_predictor_68_face_landmarks.dat",
            "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            99693937,
            "68-point landmarks (iBUG 300-W layout)",
            "trained on iBUG 300-W, whose licence excludes commercial use",
        ),
    )
}

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


def check_file(path: Path, expected_sha256: str) -> Path:
    """Raise unless ``path`` exists and hashes to ``expected_sha256`` (cached per file state)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelFileMissingError(f"model file missing: {path}; {FIX_HINT}") from None
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
            f"{expected_sha256[:16]}...; the file is damaged or a different version: {FIX_HINT}"
        )
    return path


def model_path(name: str) -> Path:
    """The verified path of a pinned model file."""
    entry = DLIB_FILES[name]
    return check_file(package_dir(entry.package) / name, entry.sha256)


def file_status(name: str) -> str:
    """``ok``, ``missing`` or ``checksum mismatch`` for a pinned file (for ``models list``)."""
    try:
        model_path(name)
    except ModelFileMissingError:
        return "missing"
    except ModelChecksumError:
        return "checksum mismatch"
    return "ok"
