"""``facegate apps access ...``: sites, schedules, cards and PINs, visitor passes, passages.

The same library calls as ``/v1/apps/access``, on the data dir's gallery; every change and
every door decision is an audit record (actor ``cli:uid<N>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.apps.access import AccessDecision
from facegate.apps.access_service import AccessControl
from facegate.apps.access_stream import StreamGate
from facegate.cli.common import CameraImageArg, DataOpt, JsonOpt, cli_actor, emit_json
from facegate.cli.gallery_cmds import open_gallery

access_app = typer.Typer(help="Access control: doors, gates, housing blocks.", no_args_is_help=True)

SiteArg = Annotated[str, typer.Argument(help="The site, e.g. block-7")]


@contextmanager
def _control(data: Path | None) -> Iterator[AccessControl]:
    """Access control on the data dir's gallery, closed (door webhooks drained) after use."""
    with open_gallery(data) as gallery:
        control = AccessControl(gallery)
        try:
            yield control
        finally:
            control.close()


def _print(decision: AccessDecision, as_json: bool) -> None:
    if as_json:
        emit_json(decision.to_dict())
        return
    typer.echo(decision.describe())


@access_app.command("site")
def site_cmd(
    site: SiteArg,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the schedules")] = "UTC",
    webhook_url: Annotated[
        str | None, typer.Option(help="The door controller's URL", show_default="none")
    ] = None,
    description: Annotated[str, typer.Option(help="What the door is", show_default="none")] = "",
    purpose: Annotated[
        str | None, typer.Option(help="The purpose", show_default="access:<site>")
    ] = None,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Create or update a site; with --webhook-url prints the signing secret once."""
    with open_gallery(data) as gallery:
        control = AccessControl(gallery)
        saved, secret = control.define_site(
            site,
            purpose=purpose,
            description=description,
            timezone=timezone,
            webhook_url=webhook_url,
            actor=cli_actor(),
        )
    out: dict[str, Any] = {**saved.to_dict(), "webhook_secret": secret}
    if as_json:
        emit_json(out)
        return
    typer.echo(f"site {saved.name}: purpose {saved.purpose}, time zone {saved.timezone}")
    if secret:
        typer.echo(f"webhook signing secret (shown once, keep it in the door controller): {secret}")


@access_app.command("schedule")
def schedule_cmd(
    site: SiteArg,
    window: Annotated[str, typer.Argument(help="e.g. 'mon-fri 07:00-19:00'")],
    subject: Annotated[
        str | None, typer.Option(help="Only this subject id", show_default="everyone")
    ] = None,
    data: DataOpt = None,
) -> None:
    """Add a schedule window (local time of the site)."""
    with open_gallery(data) as gallery:
        window_id = AccessControl(gallery).add_window(site, window, subject, cli_actor())
    typer.echo(f"schedule {window_id} added to {site}")


@access_app.command("credential")
def credential_cmd(
    site: SiteArg,
    subject: Annotated[str, typer.Option(help="The subject id")],
    kind: Annotated[str, typer.Option(help="card or pin")] = "card",
    value: Annotated[
        str | None, typer.Option(help="The card number", show_default="asked, hidden")
    ] = None,
    data: DataOpt = None,
) -> None:
    """Give a subject a card or PIN (stored as a keyed hash only): the alternative path."""
    secret = value if value is not None else typer.prompt(kind, hide_input=True)
    with open_gallery(data) as gallery:
        AccessControl(gallery).add_credential(site, subject, kind, secret, cli_actor())
    typer.echo(f"{kind} issued at {site}")


@access_app.command("visitor")
def visitor_cmd(
    site: SiteArg,
    photo: Annotated[Path, typer.Argument(help="The visitor's photo")],
    name: Annotated[str, typer.Option(help="The visitor's display name")],
    host: Annotated[str, typer.Option(help="Who invited the visitor")],
    consent_text: Annotated[str, typer.Option(help="The consent text shown to the visitor")],
    hours: Annotated[float, typer.Option(min=0.01, help="How long the pass lasts")] = 8.0,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """A visitor pass: a consent for the site that expires, and the photo enrolled."""
    with open_gallery(data) as gallery:
        made = AccessControl(gallery).issue_visitor_pass(
            site, name, [photo], hours, host=host, consent_text=consent_text, actor=cli_actor()
        )
    out = {"site": site, "subject_id": made.subject.id, "expires_at": made.expires_at.isoformat()}
    if as_json:
        emit_json(out)
        return
    typer.echo(f"visitor {made.subject.id} may pass {site} until {out['expires_at']}")


@access_app.command("check")
def check_cmd(
    site: SiteArg,
    photo: CameraImageArg,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """The door decision for one camera image (as the gate would take it)."""
    with _control(data) as control:
        decision = control.check_face(site, photo, actor=cli_actor())
    _print(decision, as_json)


@access_app.command("card")
def card_cmd(
    site: SiteArg,
    kind: Annotated[str, typer.Option(help="card or pin")] = "card",
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """The door decision for a card or PIN (asked, hidden)."""
    secret = typer.prompt(kind, hide_input=True)
    with _control(data) as control:
        decision = control.check_credential(site, kind, secret, actor=cli_actor())
    _print(decision, as_json)


class _Printer:
    """Prints each door decision of a stream gate as it is made."""

    def __init__(self, gate: StreamGate, as_json: bool) -> None:
        self.gate, self.as_json, self.printed = gate, as_json, 0

    def emit(self, event: object) -> None:
        for decision in self.gate.decisions[self.printed :]:
            _print(decision, self.as_json)
        self.printed = len(self.gate.decisions)

    def close(self) -> None:
        return None


@access_app.command("watch")
def watch_cmd(
    site: SiteArg,
    source: Annotated[str, typer.Argument(help="A video file, a camera (0) or an rtsp:// URL")],
    max_fps: Annotated[
        float | None,
        typer.Option(min=0.1, help="Process at most N frames/s", show_default="every frame"),
    ] = None,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """A gate fed from a video stream: one door decision per track, as it is decided."""
    from facegate.cli.common import engine, settings
    from facegate.video.events import FanOut
    from facegate.video.identity import TrackIdentities
    from facegate.video.search import AuditingSink, GallerySearcher
    from facegate.video.sources import FrameBudget, open_source
    from facegate.video.stream import StreamAnalyzer

    face_engine = engine(settings(data))
    with _control(data) as control:
        gallery = control.gallery
        gate = StreamGate(control, site, cli_actor())
        purpose = control.store.get_site(site).purpose
        frames = open_source(source)

        analyzer = StreamAnalyzer(
            lambda px: face_engine.detect(px).faces,
            identities=TrackIdentities(face_engine, GallerySearcher(gallery, purpose)),
            sink=FanOut(
                [gate, AuditingSink(gallery, purpose, frames.name), _Printer(gate, as_json)]
            ),
            stream_id=frames.name,
        )
        analyzer.run(frames, FrameBudget(max_fps))
