"""``facegate models detectors`` (``models install`` is in :mod:`facegate.cli.install_cmds`)."""

from __future__ import annotations

import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, settings


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
    models_app.command("detectors")(models_detectors)
