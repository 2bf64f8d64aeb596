"""The ``facegate`` command: a thin layer over the public API.

Each command group lives in its own module and is registered here. Errors derived from
:class:`facegate.errors.FacegateError` (and bad paths) become one line on stderr and a non-zero
exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from facegate.errors import FacegateError

app = typer.Typer(
    name="facegate",
    help="Privacy-first face recognition: detect, verify, identify, with consent and audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version() -> str:
    try:
        return version("facegate")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"facegate {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Privacy-first face recognition: detect, verify, identify, with consent and audit."""


def _register() -> None:
    if app.registered_groups or app.registered_commands:
        return  # main() may run many times in one process (tests)
    from facegate.cli import (
        apps_cmds,
        engine_cmds,
        eval_cmds,
        gallery_cmds,
        install_cmds,
        liveness_cmds,
        models_cmds,
        privacy_cmds,
        server_cmds,
        video_cmds,
    )

    engine_cmds.register(app)
    install_cmds.register(models_cmds.models_app)
    models_cmds.register(app)
    gallery_cmds.register(app)
    eval_cmds.register(app)
    liveness_cmds.register(app)
    server_cmds.register(app)
    privacy_cmds.register(app)
    video_cmds.register(app)
    apps_cmds.register(app)


def _usage_message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)


def main(argv: list[str] | None = None) -> None:
    """Entry point for the console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register()
    from facegate.cli.helptext import tidy

    command = tidy(typer.main.get_command(app))
    try:
        code = command.main(args=argv, prog_name="facegate", standalone_mode=False)
    except FacegateError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        typer.echo(f"error: {_usage_message(exc)}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
