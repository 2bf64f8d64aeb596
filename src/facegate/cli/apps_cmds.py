"""``facegate apps ...``: the applications' commands, one sub-group per application."""

from __future__ import annotations

import typer

apps_app = typer.Typer(help="Applications: access control, attendance...", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from facegate.cli.access_cmds import access_app
    from facegate.cli.attendance_cmds import attendance_app

    apps_app.add_typer(access_app, name="access")
    apps_app.add_typer(attendance_app, name="attendance")
    app.add_typer(apps_app, name="apps")
