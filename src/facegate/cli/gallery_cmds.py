"""``facegate consent``, ``enroll``, ``identify`` and ``subjects``: the gallery on the command line.

Every command takes ``--data DIR`` (default ``$FACEGATE_HOME`` or ``./facegate-data``). A
subject is named by its id, external id or display name (a name must be unique).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import DataOpt, JsonOpt, cli_actor, emit_json, from_settings, settings
from facegate.config import GalleryConfig, Settings
from facegate.errors import (
    FaceError,
    FacegateError,
    ImageError,
    StoreError,
    SubjectNotFoundError,
)
from facegate.gallery.analyzer import FaceAnalyzer
from facegate.gallery.serialize import subject_dict
from facegate.gallery.service import MAX_TOP_K, Gallery
from facegate.privacy.purposes import check_purpose_name
from facegate.store.protocol import Subject

consent_app = typer.Typer(help="Record and withdraw purpose-bound consent.", no_args_is_help=True)
subjects_app = typer.Typer(help="List, show and erase enrolled subjects.", no_args_is_help=True)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})

SubjectOpt = Annotated[
    str, typer.Option("--subject", help="Subject id, external id or display name.")
]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="The purpose, e.g. 'door'.")]


def _engine_for(base: Settings) -> FaceAnalyzer:
    from facegate.pipeline.engine import FaceEngine

    return FaceEngine(base.engine, base.image, home=base.home)


def open_gallery(data: Path | None) -> Gallery:
    """The gallery in the data dir; the engine loads only if a command needs faces."""
    base = settings(data)
    key = base.master_key.get_secret_value() if base.master_key is not None else None
    return Gallery.open(
        base.home,
        engine=lambda: _engine_for(base),
        config=base.gallery,
        limits=base.image,
        master_key=key,
        preload=False,
        store_url=base.store.url,
    )


@consent_app.command("grant")
def consent_grant(
    subject: SubjectOpt,
    purpose: PurposeOpt,
    evidence: Annotated[
        str,
        typer.Option(
            "--evidence",
            help="A reference to the consent (form id, ticket...); this or --text is needed.",
            show_default="none",
        ),
    ] = "",
    text: Annotated[
        str | None,
        typer.Option(
            "--text", help="The exact consent text shown to the person.", show_default="none"
        ),
    ] = None,
    text_version: Annotated[
        str | None,
        typer.Option(
            "--text-version",
            metavar="VERSION",
            help="Version of that text, e.g. 2025-03.",
            show_default="none",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="How it was given: signed-form, kiosk, app...",
            show_default="not stated",
        ),
    ] = None,
    expires: Annotated[
        datetime | None,
        typer.Option(
            "--expires",
            metavar="DATE",
            help="When the consent ends (ISO date or date and time).",
            show_default="never (until withdrawn)",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record consent with its evidence; creates the subject (by name) and purpose if new.

    If the consent is refused (no evidence, or any other error), a subject or purpose this
    command created is removed again: a failed command leaves nothing behind.
    """
    with open_gallery(data) as gallery:
        check_purpose_name(purpose)
        with _created_for(gallery, subject, purpose) as found:
            until = expires.astimezone() if expires is not None else None
            consent = gallery.grant_consent(
                found.id,
                purpose,
                evidence,
                until,
                text=text,
                text_version=text_version,
                method=method,
                actor=cli_actor(),
            )
    if as_json:
        emit_json(
            {
                "subject_id": found.id,
                "subject": found.display_name,
                "purpose": purpose,
                "granted_at": consent.granted_at.isoformat(),
            }
        )
    else:
        typer.echo(f"consent granted: {found.display_name} ({found.id}) for {purpose}")


@contextmanager
def _created_for(gallery: Gallery, subject: str, purpose: str) -> Iterator[Subject]:
    """The subject named ``subject`` and the purpose, created if new; both removed again if
    the block fails (neither was used by anything else yet, and neither creation is audited)."""
    new_purpose = purpose not in {p.name for p in gallery.purposes()}
    try:
        found, new_subject = gallery.subject(subject), False
    except SubjectNotFoundError:
        found, new_subject = gallery.create_subject(subject), True
    try:
        gallery.add_purpose(purpose)
        yield found
    except BaseException:
        if new_subject:
            gallery.store.erase_subject(found.id)
        if new_purpose and purpose in {p.name for p in gallery.purposes()}:
            gallery.store.erase_purpose(purpose)
        raise


@consent_app.command("revoke")
def consent_revoke(subject: SubjectOpt, purpose: PurposeOpt, data: DataOpt = None) -> None:
    """Withdraw consent; the subject leaves that purpose's searches at once."""
    with open_gallery(data) as gallery:
        found = gallery.subject(subject)
        changed = gallery.revoke_consent(found.id, purpose, actor=cli_actor())
    state = "revoked" if changed else "no active consent to revoke"
    typer.echo(f"consent {state}: {found.display_name} ({found.id}) for {purpose}")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def enroll(
    purpose: PurposeOpt,
    images: Annotated[list[Path] | None, typer.Argument(help="Images, one face each.")] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Subject id, external id or name (needed without --from-dir).",
            show_default="none",
        ),
    ] = None,
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from-dir",
            metavar="DIR",
            help="One folder per person; folder name = display name.",
            show_default="none",
        ),
    ] = None,
    consent_evidence: Annotated[
        str | None,
        typer.Option(
            "--consent-evidence",
            metavar="EVIDENCE",
            help="With --from-dir: the consent evidence held.",
            show_default="none",
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol faces of a consented subject, or a folder of people (--from-dir)."""
    if from_dir is not None:
        if images or subject:
            raise StoreError("--from-dir takes no --subject and no IMAGE arguments")
        if not consent_evidence:
            raise StoreError("--from-dir needs --consent-evidence: the consent you hold")
        _enroll_dir(from_dir, purpose, consent_evidence, data, as_json)
        return
    if not subject or not images:
        raise StoreError("enrol needs --subject and at least one IMAGE (or --from-dir)")
    with open_gallery(data) as gallery:
        result = gallery.enroll(
            gallery.subject(subject).id, list(images), purpose, actor=cli_actor()
        )
    if as_json:
        emit_json(result.to_dict())
        return
    name = result.subject.display_name
    typer.echo(f"enrolled {name} ({result.subject.id}): {len(result.added)} template(s) added")
    for label in result.already_enrolled:
        typer.echo(f"  already enrolled: {label}")
    for warning in result.warnings:
        typer.echo(f"  warning: {warning}", err=True)


def _enroll_dir(root: Path, purpose: str, evidence: str, data: Path | None, as_json: bool) -> None:
    from facegate.cli.progress import progress_bar

    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise StoreError(f"no person folders in {root}")
    total = sum(len(_image_files(f)) for f in folders)
    summary: dict[str, Any] = {
        "subjects": 0,
        "added": 0,
        "already_enrolled": 0,
        "failures": [],
        "warnings": [],
    }
    done = 0
    with open_gallery(data) as gallery, progress_bar() as progress:  # stderr: --json shows it too
        gallery.add_purpose(purpose)
        for folder in folders:
            files = _image_files(folder)
            try:
                counts = _enroll_person(gallery, folder.name, files, purpose, evidence)
            except FacegateError as exc:
                summary["failures"].append({"subject": folder.name, "error": str(exc)})
                counts = {}
            for key in ("subjects", "added", "already_enrolled"):
                summary[key] += counts.get(key, 0)
            summary["failures"].extend(counts.get("failures", []))
            summary["warnings"].extend(counts.get("warnings", []))
            done += len(files)
            if progress is not None:
                progress("enrolling", done, total)
    if as_json:
        emit_json(summary)
    else:
        _print_dir_summary(summary)
    if summary["failures"]:
        raise typer.Exit(1)  # the good images are stored; the exit status says some were not


def _print_dir_summary(summary: dict[str, Any]) -> None:
    typer.echo(
        f"{summary['subjects']} subject(s), {summary['added']} template(s) added, "
        f"{summary['already_enrolled']} already enrolled, {len(summary['failures'])} failure(s), "
        f"{len(summary['warnings'])} warning(s)"
    )
    for failure in summary["failures"]:
        typer.echo(f"  {failure['subject']}: {failure['error']}", err=True)
    for warning in summary["warnings"]:
        typer.echo(f"  {warning['subject']}: warning: {warning['warning']}", err=True)


def _enroll_person(
    gallery: Gallery, name: str, files: list[Path], purpose: str, evidence: str
) -> dict[str, Any]:
    try:
        subject = gallery.subject(name)
    except SubjectNotFoundError:
        subject = gallery.create_subject(name)
    if subject.id not in {s.id for s in gallery.subjects(purpose)}:
        gallery.grant_consent(subject.id, purpose, evidence, method="bulk", actor=cli_actor())
    if not files:
        return {"subjects": 1}
    result = gallery.enroll(subject.id, list(files), purpose, skip_failures=True, actor=cli_actor())
    return {
        "subjects": 1,
        "added": len(result.added),
        "already_enrolled": len(result.already_enrolled),
        "failures": [{"subject": name, "error": str(err)} for _, err in result.failures],
        "warnings": [
            {
                "subject": name,
                "image": w.image,
                "other_subject_id": w.other_subject_id,
                "similarity": round(w.similarity, 6),
                "warning": str(w),
            }
            for w in result.warnings
        ],
    }


def identify(
    images: Annotated[list[Path], typer.Argument(help="Images to search for known faces.")],
    purpose: PurposeOpt,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, max=MAX_TOP_K, help="Candidates per face.")
    ] = 5,
    operating_point: Annotated[
        str | None,
        typer.Option(
            "--operating-point",
            metavar="POINT",
            help="Named by false positive identification rate, e.g. fpir=1e-3.",
            show_default=from_settings(
                "FACEGATE_GALLERY__OPERATING_POINT", GalleryConfig, "operating_point"
            ),
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is in each image? Faces below the operating point are 'unknown'."""
    failed = 0
    with open_gallery(data) as gallery:
        for path in images:
            try:
                result = gallery.identify(
                    path, purpose, top_k, operating_point=operating_point, actor=cli_actor()
                )
            except (ImageError, FaceError) as exc:
                typer.echo(f"error: {path}: {exc}", err=True)
                failed += 1
                continue
            if as_json:
                emit_json({"image": str(path), **result.to_dict()})
                continue
            typer.echo(f"{path}: {len(result.faces)} face(s), {result.gallery_size} searched")
            for i, face in enumerate(result.faces):
                best = face.candidates[0].similarity if face.candidates else float("nan")
                who = face.match.subject.display_name if face.match else "unknown"
                point = face.operating_point
                box = ", ".join(f"{v:.0f}" for v in face.face.box.as_list())
                typer.echo(
                    f"  [{i}] box=[{box}] {who} (similarity {best:.3f}, {point.name} "
                    f"threshold {point.threshold:.3f})"
                )
    if failed:
        raise typer.Exit(2)


@subjects_app.command("list")
def subjects_list(
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose", help="Only subjects consented for this.", show_default="every subject"
        ),
    ] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrolled subjects (with an active consent for --purpose, if given)."""
    with open_gallery(data) as gallery:
        subjects = gallery.subjects(purpose)
        rows = [
            {
                "subject_id": s.id,
                "subject": s.display_name,
                "templates": len(gallery.templates(s.id)),
            }
            for s in subjects
        ]
    if as_json:
        emit_json({"subjects": rows})
        return
    for row in rows:
        typer.echo(f"{row['subject_id']}  {row['templates']:3d} template(s)  {row['subject']}")


@subjects_app.command("show")
def subjects_show(
    subject: Annotated[str, typer.Argument(help="Subject id, external id or name.")],
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One subject: consents (with evidence) and templates (never the embeddings)."""
    with open_gallery(data) as gallery:
        found = gallery.subject(subject)
        info = subject_dict(gallery, found)
        templates = gallery.templates(found.id)
    if as_json:
        emit_json(info)
        return
    typer.echo(f"{info['subject']} ({info['subject_id']}), created {info['created_at']}")
    typer.echo(f"  templates: {info['templates']} ({', '.join(info['packs']) or 'none'})")
    for t in templates:
        quality = f"quality {t.quality:.0f}" if t.quality is not None else "quality unknown"
        typer.echo(
            f"  template {t.id}: purpose {t.purpose or '-'}, {t.pack}, {quality}, "
            f"added {t.created_at.isoformat()}  (erase: facegate subjects erase-template {t.id})"
        )
    for c in info["consents"]:
        state = "revoked " + c["revoked_at"] if c["revoked_at"] else "active"
        typer.echo(f"  consent {c['purpose']}: {state}, granted {c['granted_at']}: {c['evidence']}")


@subjects_app.command("erase")
def subjects_erase(
    subject: Annotated[str, typer.Argument(help="Subject id, external id or name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data: DataOpt = None,
) -> None:
    """Erase a subject for good: records, templates and the key that could decrypt them."""
    with open_gallery(data) as gallery:
        found = gallery.subject(subject)
        if not yes:
            typer.confirm(f"erase {found.display_name} ({found.id}) for good?", abort=True)
        gallery.erase(found.id, actor=cli_actor())
    typer.echo(f"erased {found.id}")


def register(app: typer.Typer) -> None:
    app.command()(enroll)
    app.command()(identify)
    app.add_typer(consent_app, name="consent")
    app.add_typer(subjects_app, name="subjects")
