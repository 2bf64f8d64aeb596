"""``facegate apps attendance ...``: classes, rosters, guardians, sessions, check-ins, reports.

The same library calls as ``/v1/apps/attendance``. Exam check-in needs a live liveness session
on a camera and runs through the API or the check-in kiosk page, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from facegate.apps.attendance import Window, report_csv, report_html
from facegate.apps.attendance_service import Attendance
from facegate.cli.common import CameraImageArg, DataOpt, JsonOpt, cli_actor, emit_json
from facegate.cli.gallery_cmds import open_gallery
from facegate.errors import InvalidRequestError

attendance_app = typer.Typer(
    help="Attendance and exam check-in (no emotion or attention analysis).", no_args_is_help=True
)
ClassArg = Annotated[str, typer.Argument(help="The class, e.g. cs101")]
SessionArg = Annotated[str, typer.Argument(help="The session id (as_...)")]


@contextmanager
def _attendance(data: Path | None) -> Iterator[Attendance]:
    """Attendance on the data dir's gallery."""
    with open_gallery(data) as gallery:
        yield Attendance(gallery)


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"bad time {text!r}: use ISO 8601 with a zone") from None
    if at.tzinfo is None:
        raise InvalidRequestError(f"time {text!r} needs a zone (e.g. +01:00 or Z)")
    return at


@attendance_app.command("class")
def class_cmd(
    name: ClassArg,
    exam: Annotated[bool, typer.Option(help="An exam cohort (liveness required)")] = False,
    data: DataOpt = None,
) -> None:
    """Create or update a class (purpose attendance:<name>) or exam (exam:<name>)."""
    with _attendance(data) as attendance:
        info = attendance.define_class(name, exam=exam, actor=cli_actor())
    typer.echo(f"class {info.name}: purpose {info.purpose}")


@attendance_app.command("roster")
def roster_cmd(
    name: ClassArg,
    subject: Annotated[str, typer.Argument(help="The subject id")],
    birth_date: Annotated[
        str | None,
        typer.Option(help="YYYY-MM-DD (under 14: guardian first)", show_default="unknown"),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Put a subject on a class's roster."""
    born = date.fromisoformat(birth_date) if birth_date else None
    with _attendance(data) as attendance:
        attendance.add_to_roster(name, subject, born, cli_actor())
    typer.echo(f"{subject} is on the roster of {name}")


@attendance_app.command("guardian")
def guardian_cmd(
    name: ClassArg,
    subject: Annotated[str, typer.Argument(help="The minor's subject id")],
    birth_date: Annotated[str, typer.Option(help="The minor's birth date, YYYY-MM-DD")],
    guardian: Annotated[str, typer.Option(help="The guardian's name")],
    relation: Annotated[str, typer.Option(help="e.g. mother, father, legal guardian")],
    contact: Annotated[str, typer.Option(help="The guardian's phone or e-mail")],
    text: Annotated[str, typer.Option(help="The consent text the guardian agreed to")],
    data: DataOpt = None,
) -> None:
    """Record a guardian's consent for a minor, with the guardian's details."""
    with _attendance(data) as attendance:
        gid = attendance.grant_guardian_consent(
            name, subject, date.fromisoformat(birth_date), (guardian, relation, contact), text,
            cli_actor(),
        )  # fmt: skip
    typer.echo(f"guardian consent {gid} recorded for {subject} in {name}")


@attendance_app.command("session")
def session_cmd(
    name: ClassArg,
    opens: Annotated[str, typer.Option(help="Check-in opens (ISO 8601 with zone)")],
    late_after: Annotated[str, typer.Option(help="Late from")],
    closes: Annotated[str, typer.Option(help="Check-in closes")],
    starts: Annotated[str | None, typer.Option(help="Starts", show_default="--opens")] = None,
    title: Annotated[str, typer.Option(help="e.g. Lecture 3", show_default="none")] = "",
    kind: Annotated[str, typer.Option(help="class or exam")] = "class",
    analysis: Annotated[
        list[str] | None,
        typer.Option(help="Refused: facegate offers no analysis of people", show_default="none"),
    ] = None,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Open a session with its check-in window."""
    window = Window(_when(opens), _when(starts or opens), _when(late_after), _when(closes))
    with _attendance(data) as attendance:
        made = attendance.open_session(
            name, title, kind, window, analyses=analysis or (), actor=cli_actor()
        )
    if as_json:
        emit_json(made.to_dict())
        return
    typer.echo(f"session {made.id} of {name}")


@attendance_app.command("checkin")
def checkin_cmd(
    session: SessionArg,
    photo: CameraImageArg,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Class check-in by face: every roster member found in the image."""
    with _attendance(data) as attendance:
        found = attendance.check_in_face(session, photo, actor=cli_actor())
    if as_json:
        emit_json({"checkins": [c.to_dict() for c in found]})
        return
    for c in found:
        typer.echo(f"{c.subject_id or '-'}\t{c.status}")


@attendance_app.command("staff")
def staff_cmd(
    session: SessionArg,
    subject: Annotated[str, typer.Argument(help="The subject id")],
    data: DataOpt = None,
) -> None:
    """The alternative path: the teacher checks a person in."""
    with _attendance(data) as attendance:
        found = attendance.check_in_staff(session, subject, actor=cli_actor())
    typer.echo(f"{subject}\t{found.status}")


@attendance_app.command("report")
def report_cmd(
    session: SessionArg,
    fmt: Annotated[str, typer.Option("--format", help="csv, html or json")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write to a file", show_default="stdout")] = None,
    data: DataOpt = None,
) -> None:
    """Present, late, absent (and under review) for everyone on the roster."""
    import json

    with _attendance(data) as attendance:
        report = attendance.report(session)
    render = {"csv": report_csv, "html": report_html}.get(fmt)
    if render is None and fmt != "json":
        raise InvalidRequestError(f"--format is csv, html or json, not {fmt!r}")
    text = render(report) if render else json.dumps(report.to_dict(), ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)  # nothing half-written


@attendance_app.command("reviews")
def reviews_cmd(as_json: JsonOpt = False, data: DataOpt = None) -> None:
    """Open review cases (suspected impostors at exam check-ins)."""
    with _attendance(data) as attendance:
        cases = attendance.reviews()
    if as_json:
        emit_json({"reviews": [c.to_dict() for c in cases]})
        return
    for c in cases:
        typer.echo(f"{c.id}\t{c.session_id}\t{c.subject_id}\t{c.reason}")


@attendance_app.command("review")
def review_cmd(
    case: Annotated[int, typer.Argument(min=1, help="The review case id")],
    accept: Annotated[bool, typer.Option("--accept/--reject", help="The person's decision")],
    note: Annotated[str, typer.Option(help="Why", show_default="none")] = "",
    data: DataOpt = None,
) -> None:
    """Decide a review case: it is the candidate (--accept) or not (--reject)."""
    with _attendance(data) as attendance:
        decided = attendance.decide_review(case, accept, note, cli_actor())
    typer.echo(f"review {decided.id}: {decided.status}")
