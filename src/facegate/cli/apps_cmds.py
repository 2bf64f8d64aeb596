"""``facegate apps ...``: the applications' commands, one sub-group per application."""

from __future__ import annotations

import typer

apps_app = typer.Typer(
    help="Applications: payment, registration, access control, attendance; notices.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from facegate.cli.access_cmds import access_app
    from facegate.cli.attendance_cmds import attendance_app

    apps_app.add_typer(access_app, name="access")
    apps_app.add_typer(attendance_app, name="attendance")
    from facegate.cli import payment_cmds

    apps_app.add_typer(payment_cmds.notice_app, name="notice")
    apps_app.add_typer(payment_cmds.payment_app, name="payment")
    apps_app.add_typer(payment_cmds.registration_app, name="registration")
    apps_app.command("decisions")(payment_cmds.decisions_cmd)
    app.add_typer(apps_app, name="apps")
