"""The ``facegate`` command: a thin layer over the public API.

Each command group lives in its own module and is registered here. Errors derived from
:class:`facegate.errors.FacegateError` (and bad paths) become one line on stderr and a non-zero
exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from facegate.errors import FacegateError

app = typer.Typer(
    name="facegate",
    help="Privacy-first face recognition: detect, verify, identify, with consent and audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from facegate.cli import engine_cmds

    engine_cmds.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point for the console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except FacegateError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
