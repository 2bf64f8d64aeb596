"""Helpers shared by CLI command modules: settings, engines and output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.config import EngineConfig, Settings
from facegate.pipeline.engine import FaceEngine
from facegate.privacy.audit import Actor, AuditChain, AuditEvent


class DetectorName(StrEnum):
    hog = "hog"
    cnn = "cnn"
    mtcnn = "mtcnn"
    libfacedetection = "libfacedetection"
    libfacedetection_onet = "libfacedetection-onet"
    blazeface_back = "blazeface-back"
    blazeface_full = "blazeface-full"


class RuntimeName(StrEnum):
    dlib = "dlib"
    onnx = "onnx"


def from_settings(env: str, model: type[Any], field: str) -> str:
    """The ``--help`` default of an option whose value otherwise comes from the settings."""
    return f"${env}, else {model.model_fields[field].default}"


# Options shared by several commands.
DetectorOpt = Annotated[
    DetectorName | None,
    typer.Option(
        "--detector",
        help="hog, cnn, mtcnn, libfacedetection, libfacedetection-onet, blazeface-back or "
        "blazeface-full ('facegate "
        "models detectors' lists those installed; docs/BENCHMARKS.md compares them).",
        show_default=from_settings("FACEGATE_ENGINE__DETECTOR", EngineConfig, "detector"),
    ),
]
UpsampleOpt = Annotated[
    int | None,
    typer.Option(
        "--upsample",
        min=0,
        max=4,
        metavar="N",
        help="Double the image N times first.",
        show_default=from_settings("FACEGATE_ENGINE__UPSAMPLE", EngineConfig, "upsample"),
    ),
]
RuntimeOpt = Annotated[
    RuntimeName | None,
    typer.Option(
        "--runtime",
        help="onnx (fast) or dlib (reference).",
        show_default=from_settings("FACEGATE_ENGINE__RUNTIME", EngineConfig, "runtime"),
    ),
]
PackOpt = Annotated[
    str | None,
    typer.Option(
        "--pack",
        metavar="PACK",
        help="Model pack (see 'facegate models list').",
        show_default=from_settings("FACEGATE_ENGINE__PACK", EngineConfig, "pack"),
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (stable).")]
CameraImageArg = Annotated[Path, typer.Argument(help="A camera image")]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="Data directory.",
        show_default="$FACEGATE_HOME, else ./facegate-data",
    ),
]


def cli_actor() -> Actor:
    """Who acts in audit records for a command run on this machine: ``cli:uid<N>``."""
    return Actor(f"cli:uid{os.getuid()}")


def settings(data: Path | None = None) -> Settings:
    """Settings from the environment, with ``--data`` overriding ``FACEGATE_HOME``."""
    base = Settings()
    return base.model_copy(update={"home": data}) if data is not None else base


def engine(
    base: Settings,
    detector: str | None = None,
    upsample: int | None = None,
    runtime: str | None = None,
    landmarks68: bool = False,
    pack: str | None = None,
) -> FaceEngine:
    updates: dict[str, Any] = {}
    if pack is not None:
        updates["pack"] = pack
    if detector is not None:
        updates["detector"] = detector
    if upsample is not None:
        updates["upsample"] = upsample
    if runtime is not None:
        updates["runtime"] = runtime
    if landmarks68:
        updates["landmarks68"] = True
    config = EngineConfig.model_validate({**base.engine.model_dump(), **updates})
    return FaceEngine(config, base.image, home=base.home)


def emit_json(obj: Any) -> None:
    """One JSON object on one line of stdout."""
    typer.echo(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


@contextmanager
def audit_chain(base: Settings) -> Iterator[AuditChain]:
    """The audit chain of the data dir (opens the store: checks the master key, migrates)."""
    from facegate.store.crypto import MasterKey
    from facegate.store.sql import SqlStore

    secret = base.master_key.get_secret_value() if base.master_key is not None else None
    store = SqlStore.open(base.home, MasterKey.resolve(base.home, secret), base.store.url)
    try:
        yield AuditChain(store.transactions, store.master_key, store.clock)
    finally:
        store.close()


def record_local(base: Settings, event: AuditEvent) -> None:
    """Record a command that needs no gallery (detect, verify) in the data dir's audit chain,
    when the data dir holds a gallery; a machine without one keeps no records."""
    from facegate.store.sql import DB_FILE_NAME

    if base.store.url is None and not (base.home / DB_FILE_NAME).exists():
        return
    with audit_chain(base) as chain:
        chain.append(event, cli_actor())
