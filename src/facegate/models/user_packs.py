"""Adding an operator's own pack (``facegate models add DIR``).

``DIR`` holds a ``manifest.json`` (see :mod:`facegate.models.manifest`) and the files it names,
each with a ``user`` source whose ``path`` is the file's name inside ``DIR``. The SHA-256 and
size of every file are measured now and pinned in the installed manifest (a manifest that
already gives them must agree). The embedder is run once on blank chips, so a model whose
input or output does not fit its manifest is refused before anything is written. The pack is
then copied to ``<data dir>/packs/<name>/`` through a temporary folder renamed into place:
either the whole pack is there or none of it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ConfigError, FacegateError, ModelConversionError
from facegate.models.files import sha256_file
from facegate.models.manifest import parse_manifest, shipped_packs
from facegate.models.registry import MANIFEST_NAME, USER_PACKS_DIR, PackRegistry
from facegate.models.specs import Pack


def _pin_files(data: dict[str, Any], folder: Path) -> dict[str, str]:
    """Fill in (or check) each file's SHA-256 and size; returns each file's path in ``folder``."""
    entries = data.get("files")
    if not isinstance(entries, list):
        raise ConfigError(f"{folder / MANIFEST_NAME}: 'files' must be a list")
    found: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{folder / MANIFEST_NAME}: each file needs a 'name'")
        source = entry.get("source", {"kind": "user", "path": entry["name"]})
        if not isinstance(source, dict) or source.get("kind") != "user":
            raise ConfigError(f"file {entry['name']!r}: an added pack's files must be user files")
        rel = str(source.get("path", entry["name"]))
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not path.is_file():
            raise ConfigError(f"file {entry['name']!r}: {rel!r} is not a file inside {folder}")
        digest, size = sha256_file(path), path.stat().st_size
        if entry.get("sha256", digest) != digest or entry.get("size", size) != size:
            raise ConfigError(
                f"file {entry['name']!r}: SHA-256 {digest[:16]}... / {size} bytes does not match "
                "the manifest's pin"
            )
        entry.update(sha256=digest, size=size, source={"kind": "user", "path": entry["name"]})
        found[entry["name"]] = rel
    return found


def probe(pack: Pack, registry: PackRegistry) -> None:
    """Run the pack's embedder once on two blank chips: input and output must fit the spec."""
    from facegate.models.factory import build_embedder, embedder_spec

    spec = embedder_spec(pack)
    if spec.kind != "arcface-onnx":
        raise ConfigError(f"pack {pack.name!r}: an added pack's embedder must be arcface-onnx")
    embedder = build_embedder(pack, registry, _options())
    chips = np.zeros((2, spec.input_size, spec.input_size, 3), np.uint8)
    try:
        vectors = embedder.embed(chips)
    except FacegateError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelConversionError(f"pack {pack.name!r}: the embedder failed: {message}") from None
    if vectors.shape != (2, spec.output_dim) or not np.isfinite(vectors).all():
        raise ModelConversionError(f"pack {pack.name!r}: the embedder's output is not usable")


def _options() -> Any:
    from facegate.models.factory import BackendOptions

    return BackendOptions()


def add_pack(source: Path, home: Path, accept_licence: bool = False) -> Pack:
    """Check the pack in ``source`` and install it into ``home``; returns the installed pack."""
    source = Path(source)
    manifest = source / MANIFEST_NAME
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no {MANIFEST_NAME} in {source}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{manifest} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{manifest} must hold a JSON object")
    paths = _pin_files(data, source)
    as_found = copy.deepcopy(data)  # the same pack, reading its files where they are now
    for entry in as_found["files"]:
        entry["source"]["path"] = paths[entry["name"]]
    staged = parse_manifest(as_found, str(manifest), folder=source)
    registry = PackRegistry(home)
    taken = (*shipped_packs(), *registry.names(), *registry.errors)
    if staged.name in taken or (home / USER_PACKS_DIR / staged.name).exists():
        raise ConfigError(f"a pack named {staged.name!r} already exists")
    if staged.licence.requires_acceptance and not accept_licence:
        raise ConfigError(
            f"pack {staged.name!r} needs its licence accepted: {staged.licence.weights}; "
            "add --accept-licence"
        )
    probe(staged, registry)
    _install(data, {name: source / rel for name, rel in paths.items()}, home / USER_PACKS_DIR)
    return PackRegistry(home).get(staged.name)


def _install(data: dict[str, Any], sources: dict[str, Path], packs_dir: Path) -> None:
    name = str(data["name"])
    packs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=packs_dir))
    try:
        for file_name, path in sources.items():
            shutil.copyfile(path, tmp / file_name)
        (tmp / MANIFEST_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        for entry in tmp.iterdir():
            os.chmod(entry, 0o600)
        os.replace(tmp, packs_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not (packs_dir / name / MANIFEST_NAME).is_file():  # pragma: no cover - replace is atomic
        raise FacegateError(f"pack {name!r} was not installed")
