"""``facegate audit``, ``privacy``, ``redact`` and ``subjects export|erase-template``.

``audit verify`` exits 1 when the chain is broken and names the first bad record; ``audit
export`` writes the records of a period as JSON lines; ``privacy sweep`` applies retention;
``privacy report`` writes the impact summary; ``privacy purposes apply FILE`` sets policies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import DataOpt, JsonOpt, audit_chain, cli_actor, emit_json, settings
from facegate.cli.gallery_cmds import open_gallery, subjects_app
from facegate.cli.progress import progress_bar
from facegate.errors import StoreError
from facegate.privacy.audit import AuditEvent, parse_anchor
from facegate.privacy.purposes import load_purposes, purpose_dict

audit_app = typer.Typer(help="The tamper-evident audit chain.", no_args_is_help=True)
privacy_app = typer.Typer(help="Retention, purposes, erasure, reports.", no_args_is_help=True)
purposes_app = typer.Typer(help="Purpose policies.", no_args_is_help=True)

OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write here instead of standard output.",
        show_default="standard output",
    ),
]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:MAC",
            help="The head of the chain, kept elsewhere (facegate audit head).",
            show_default="none",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every record's MAC and link; exit 1 and name the first bad record if broken."""
    with audit_chain(settings(data)) as chain:
        check = chain.verify(parse_anchor(anchor) if anchor else None)
    if as_json:
        emit_json(check.to_dict())
    elif check.ok:
        typer.echo(
            f"audit chain OK: {check.records} records, head {check.head_seq}:{check.head_mac}"
        )
        for note in check.notes:
            typer.echo(f"note: {note}", err=True)
    else:
        typer.echo(f"audit chain BROKEN at record {check.first_bad}: {check.problem}", err=True)
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(data: DataOpt = None) -> None:
    """Print the head SEQ:MAC; keep it outside this machine to detect truncation later."""
    with audit_chain(settings(data)) as chain:
        seq, mac = chain.head()
    typer.echo(f"{seq}:{mac}")


@audit_app.command("export")
def audit_export(
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", metavar="DATE", help="From (UTC if no zone).", show_default="the first"
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", metavar="DATE", help="Before (UTC).", show_default="now"),
    ] = None,
    output: OutOpt = None,
    data: DataOpt = None,
) -> None:
    """Write the records of a period, one JSON object per line (with their MACs)."""
    with audit_chain(settings(data)) as chain:
        records = chain.records(since=_utc(since), until=_utc(until))
        chain.append(
            AuditEvent("audit.export", None, (), f"{len(records)} records exported"), cli_actor()
        )
    lines = "".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n" for r in records)
    _write(lines, output)


@privacy_app.command("sweep")
def privacy_sweep(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Delete templates past retention or consent, and subjects left with nothing."""
    base = settings(data)
    from datetime import timedelta

    with open_gallery(data) as gallery:
        grace = timedelta(days=base.privacy.pending_subject_days)
        done = gallery.sweep(pending_grace=grace, actor=cli_actor())
    result = {
        "templates_past_retention": done.templates_past_retention,
        "templates_without_consent": done.templates_without_consent,
        "erased_subjects": list(done.erased_subjects),
    }
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"swept: {done.templates_past_retention} template(s) past retention, "
        f"{done.templates_without_consent} without consent, "
        f"{len(done.erased_subjects)} subject(s) erased"
    )


@privacy_app.command("report")
def privacy_report(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where privacy-report.md and .json go.")
    ] = Path("."),
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            metavar="DIR",
            help="Folder of evaluation reports (facegate eval --out).",
            show_default="<data dir>/reports, where facegate eval writes them",
        ),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Write a data-protection impact summary (Markdown and JSON)."""
    from facegate.gallery.report import build_report, render_markdown

    reports = results if results is not None else settings(data).home / "reports"
    with open_gallery(data) as gallery:
        report = build_report(gallery, reports)
        gallery.record(AuditEvent("privacy.report", None, (), "impact summary"), cli_actor())
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "privacy-report.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / "privacy-report.md").write_text(render_markdown(report))
    typer.echo(f"wrote {output_dir / 'privacy-report.md'} and privacy-report.json")


@privacy_app.command("erase-purpose")
def privacy_erase_purpose(
    purpose: Annotated[str, typer.Argument(help="The purpose to erase everything of.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a purpose: its templates, consents and definition; orphaned subjects whole."""
    with open_gallery(data) as gallery:
        if not yes:
            typer.confirm(f"erase everything held for purpose {purpose}?", abort=True)
        done = gallery.erase_purpose(purpose, actor=cli_actor())
    if as_json:
        emit_json(
            {
                "purpose": purpose,
                "templates": done.templates,
                "consents": done.consents,
                "erased_subjects": list(done.erased_subjects),
            }
        )
        return
    typer.echo(
        f"erased purpose {purpose}: {done.templates} template(s), {done.consents} "
        f"consent(s), {len(done.erased_subjects)} subject(s) erased"
    )


@purposes_app.command("apply")
def purposes_apply(
    file: Annotated[Path, typer.Argument(help="A purposes file (.toml or .json).")],
    data: DataOpt = None,
) -> None:
    """Create or update every purpose in the file."""
    configs = load_purposes(file)
    with open_gallery(data) as gallery:
        for config in configs:
            gallery.define_purpose(config.to_purpose(), actor=cli_actor())
    typer.echo(f"applied {len(configs)} purpose(s): {', '.join(c.name for c in configs)}")


@purposes_app.command("list")
def purposes_list(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Purposes and their policies."""
    with open_gallery(data) as gallery:
        found = [purpose_dict(p) for p in gallery.purposes()]
    if as_json:
        emit_json({"purposes": found})
        return
    for p in found:
        consent = "consent" if p["consent_required"] else f"NO consent ({p['legal_basis']})"
        typer.echo(
            f"{p['name']}: {consent}, retention {p['retention_days'] or '-'} d, "
            f"scopes {','.join(p['scopes']) or 'any'}"
        )


@subjects_app.command("export")
def subjects_export(
    subject: Annotated[str, typer.Argument(help="Subject id, external id or name.")],
    output: OutOpt = None,
    data: DataOpt = None,
) -> None:
    """Everything held about a subject, as JSON (subject access request)."""
    from facegate.gallery.export import export_subject

    with open_gallery(data) as gallery:
        found = export_subject(gallery, gallery.subject(subject).id, cli_actor())
    _write(json.dumps(found, indent=2, ensure_ascii=False) + "\n", output)


@subjects_app.command("erase-template")
def subjects_erase_template(
    template_id: Annotated[int, typer.Argument(help="The template id (subjects export).")],
    data: DataOpt = None,
) -> None:
    """Erase one template; the subject and its other templates stay."""
    with open_gallery(data) as gallery:
        info = gallery.erase_template(template_id, actor=cli_actor())
    typer.echo(f"erased template {info.id} of subject {info.subject_id}")


def redact(
    source: Annotated[Path, typer.Argument(help="A photo or a video (.mp4, .avi, .mov...).")],
    target: Annotated[Path, typer.Argument(help="Where the redacted copy goes (.jpg/.png/.mp4).")],
    keep_purpose: Annotated[
        str | None,
        typer.Option(
            "--keep-purpose",
            metavar="PURPOSE",
            help="Leave faces of subjects consented for this.",
            show_default="blur every face",
        ),
    ] = None,
    every: Annotated[
        int, typer.Option("--every", metavar="N", min=1, help="Detect every Nth frame.")
    ] = 1,
    max_frames: Annotated[
        int | None,
        typer.Option(
            "--max-frames",
            metavar="N",
            min=1,
            help="Stop after this many frames.",
            show_default="the whole video",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Blur every face in a photo or video, except subjects consented for --keep-purpose.

    A video is searched for faces with libfacedetection where it is installed (unless the
    settings name a detector): it misses far fewer faces than HOG.

    A video is redacted on face tracks (a face stays blurred through frames where the detector
    misses it) and keeps its audio (with the `video` extra: imageio-ffmpeg).
    """
    from facegate.privacy.redact import is_video, redact_image

    if source.resolve() == target.resolve():
        raise StoreError("redact writes a copy: TARGET must differ from SOURCE")
    with open_gallery(data) as gallery:
        find, keep, kept_ids = _redaction_functions(gallery, keep_purpose, is_video(source))
        if is_video(source):
            summary = _redact_video(source, target, find, keep, every, max_frames)
        else:
            stats = redact_image(source, target, find, keep)
            summary = {**stats.to_dict(), "frames_blurred": int(stats.regions_blurred > 0)}
        decision = (
            f"{summary['frames']} frames, {summary.get('frames_with_faces', summary['frames'])} "
            f"with faces, {summary['frames_blurred']} blurred, {summary['faces_kept']} faces kept"
        )
        gallery.record(AuditEvent("redact", keep_purpose, sorted(kept_ids), decision), cli_actor())
    if as_json:
        emit_json({"source": str(source), "target": str(target), **summary})
        return
    audio = "" if summary.get("audio", True) else " (no audio: install the video extra)"
    typer.echo(f"redacted {source} -> {target}: {decision}{audio}")


def _redact_video(
    source: Path,
    target: Path,
    find: Any,
    keep: Any,
    every: int,
    max_frames: int | None,
) -> dict[str, Any]:
    from facegate.video.redact import redact_tracked

    with progress_bar() as progress:  # on stderr: --json (stdout) shows it too
        stats = redact_tracked(
            source, target, find, keep, every=every, max_frames=max_frames, progress=progress
        )
    return stats.to_dict()


def _redaction_functions(
    gallery: Any, purpose: str | None, video: bool = False
) -> tuple[Any, Any, set[str]]:
    from facegate.types import DetectResult

    engine = gallery.engine
    if video:  # video's detector (libfacedetection where installed), the same upsampling
        from facegate.pipeline.engine import FaceEngine
        from facegate.video.detect import video_engine_config

        config = video_engine_config(engine.config, upsample=engine.config.upsample)
        engine = FaceEngine(config, engine.limits, home=engine.home)
    kept_ids: set[str] = set()
    if purpose is None:
        return (lambda px: engine.detect(px, quality=False).faces), None, kept_ids
    gallery.store.get_purpose(purpose)

    def keep(px: Any, faces: list[Any]) -> list[bool]:
        found = gallery.identify_faces(DetectResult(px.shape[1], px.shape[0], faces), purpose)
        matched = {id(f.face): f.match for f in found.faces if f.match is not None}
        kept_ids.update(m.subject.id for m in matched.values())
        return [id(face) in matched for face in faces]

    return (lambda px: engine.analyze(px).faces), keep, kept_ids


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    privacy_app.add_typer(purposes_app, name="purposes")
    app.add_typer(privacy_app, name="privacy")
    app.command()(redact)
