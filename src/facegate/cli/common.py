"""Helpers shared by CLI command modules: settings, engines and output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from facegate.config import EngineConfig, Settings
from facegate.pipeline.engine import FaceEngine
from facegate.privacy.audit import Actor


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
) -> FaceEngine:
    updates: dict[str, Any] = {}
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
