"""``facegate liveness train DIR`` and ``facegate eval pad``: the PAD baseline and figures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, engine, settings
from facegate.cli.progress import progress_bar
from facegate.errors import ConfigError
from facegate.types import ProgressFn

liveness_app = typer.Typer(help="Liveness: train the texture PAD baseline.", no_args_is_help=True)

DEFAULT_MODEL = Path("pad") / "texture.npz"


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressFn | None]:
    """The terminal progress bar, or none (``--json``)."""
    if not enabled:
        yield None
        return
    with progress_bar() as progress:
        yield progress


@liveness_app.command("train")
def train_cmd(
    folder: Annotated[Path, typer.Argument(help="labels.csv (path,label) or live/ + attack dirs")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Model file", show_default="<data dir>/pad/texture.npz"),
    ] = None,
    bpcer: Annotated[
        float, typer.Option("--bpcer", min=0.001, max=0.5, help="Training BPCER for the threshold")
    ] = 0.05,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """Train the LBP + spectrum texture baseline on your own labelled live and attack images."""
    from facegate.eval.pad_data import read_pad_folder, texture_dataset
    from facegate.liveness.texture import train_texture

    base = settings(data)
    samples = read_pad_folder(folder)
    with _progress_bar(not as_json) as progress:
        features, kept, skipped = texture_dataset(engine(base), samples, progress)
    live = [s.live for s in kept]
    if not any(live) or all(live):
        raise ConfigError(f"{folder}: training needs faces of both live and attack images")
    counts = {"live": sum(live), "attack": len(live) - sum(live), "skipped": len(skipped)}
    model = train_texture(features, live, bpcer=bpcer, trained_on={"folder": str(folder), **counts})
    path = out or base.home / DEFAULT_MODEL
    model.save(path)
    result = {"model": str(path), "method": model.method, "threshold": model.threshold, **counts}
    if as_json:
        emit_json(result)
        return
    typer.echo(f"trained {model.method} on {counts['live']} live and {counts['attack']} attack")
    typer.echo(f"faces ({counts['skipped']} images skipped); threshold {model.threshold:.4f}")
    typer.echo(f"model: {path}")


def pad_cmd(
    nuaa: Annotated[
        Path | None,
        typer.Option("--nuaa", help="Labelled PAD images", show_default="none: no passive part"),
    ] = None,
    video: Annotated[
        Path | None, typer.Option("--video", help="A real clip (bona fide)", show_default="none")
    ] = None,
    ytf: Annotated[
        Path | None, typer.Option("--ytf", help="YouTube Faces frames", show_default="none")
    ] = None,
    lfw: Annotated[
        Path | None,
        typer.Option("--lfw", help="Photos to make prints of", show_default="none: no active part"),
    ] = None,
    attacks: Annotated[int, typer.Option("--attacks", min=4, help="Attack sessions")] = 600,
    photos: Annotated[int, typer.Option("--photos", min=1, help="LFW photos printed")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the attacks")] = 13,
    mirror: Annotated[
        bool, typer.Option("--mirror", help="Also the clips flipped left to right (bona fide)")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder", show_default="<data dir>/reports")
    ] = None,
    as_json: JsonOpt = False,
    data: DataOpt = None,
) -> None:
    """APCER per attack type, BPCER, ACER (ISO/IEC 30107-3): the texture baseline on --nuaa
    (split by subject) and the active check on --video/--ytf clips and --lfw prints."""
    from facegate.eval.report import Report, jsonable

    if nuaa is None and (lfw is None or (video is None and ytf is None)):
        raise ConfigError("give --nuaa, or --lfw with --video and/or --ytf (or both)")
    base = settings(data)
    summary: dict[str, Any] = {}
    report = Report("pad", "Presentation attack detection (ISO/IEC 30107-3)", summary)
    with _progress_bar(not as_json) as progress:
        if nuaa is not None:
            _passive(report, nuaa, base, progress)
        if lfw is not None and (video is not None or ytf is not None):
            _active(report, base, (video, ytf, mirror), lfw, (attacks, photos, seed), progress)
    json_path, html_path = report.write(out or base.home / "reports")
    if as_json:
        emit_json(jsonable(summary))
        return
    typer.echo(f"report: {html_path}\njson:   {json_path}")


def _passive(report: Any, nuaa: Path, base: Any, progress: Any) -> None:
    from facegate.eval.pad import evaluate_passive
    from facegate.eval.pad_data import read_pad_folder, texture_dataset

    samples = read_pad_folder(nuaa)
    features, kept, skipped = texture_dataset(engine(base), samples, progress)
    part, _ = evaluate_passive(features, kept, nuaa.name)
    part.summary["images_without_a_face"] = len(skipped)
    _merge(report, part, "passive")


def _active(
    report: Any,
    base: Any,
    clips_from: tuple[Path | None, Path | None, bool],
    lfw: Path,
    counts: tuple[int, int, int],
    progress: Any,
) -> None:
    from facegate.eval.pad_run import attack_photos, evaluate_active, load_clips, photo_banks

    video, ytf, mirror = clips_from
    attacks, photos, seed = counts
    eng = engine(base, landmarks68=True)
    clips = load_clips(eng, video, ytf, mirror=mirror)
    opened, shut = attack_photos(eng, lfw, photos)
    banks = photo_banks(eng, opened, shut, progress)
    part = evaluate_active(clips, banks, attacks, seed)
    _merge(report, part, "active")


def _merge(report: Any, part: Any, key: str) -> None:
    report.summary[key] = part.summary
    report.details[key] = part.details
    report.notes += part.notes
    report.tables += [(f"{key}: {title}", head, rows) for title, head, rows in part.tables]
    report.figures.update({f"{key}: {k}": v for k, v in part.figures.items()})


def register(app: typer.Typer) -> None:
    """Add ``liveness`` and ``eval pad``."""
    app.add_typer(liveness_app, name="liveness")
    from facegate.cli.eval_cmds import eval_app

    eval_app.command("pad")(pad_cmd)
