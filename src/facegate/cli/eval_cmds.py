"""``facegate eval verify|identify|detect|fairness``: accuracy reports on standard datasets."""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import (
    DataOpt,
    DetectorName,
    DetectorOpt,
    PackOpt,
    RuntimeName,
    RuntimeOpt,
    UpsampleOpt,
    emit_json,
    engine,
    settings,
)
from facegate.cli.progress import progress_bar
from facegate.errors import ConfigError
from facegate.eval.cache import EmbeddingCache
from facegate.eval.extract import Extractor, FaceChoice, engine_variant
from facegate.eval.report import Report, jsonable
from facegate.pipeline.calibration import Calibration
from facegate.pipeline.engine import FaceEngine

logger = logging.getLogger(__name__)

eval_app = typer.Typer(
    help="Accuracy on standard datasets: LFW, folder-per-person, FDDB, UTKFace.",
    no_args_is_help=True,
)


class FaceRule(StrEnum):
    centre = "centre"
    largest = "largest"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one summary object (stable keys).")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Report folder (default: <data dir>/reports).")
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached faces.")]
FaceOpt = Annotated[
    FaceRule, typer.Option("--face", help="Which face of an image: nearest the centre or largest.")
]


@contextmanager
def _session(
    data: Path | None,
    detector: DetectorName | None,
    upsample: int | None,
    runtime: RuntimeName | None,
    workers: int,
    use_cache: bool,
    pack: str | None = None,
) -> Iterator[tuple[Extractor, Calibration | None, Path]]:
    base = settings(data)
    eng = engine(base, detector, upsample, runtime, pack=pack)
    cfg = eng.config
    factory: Callable[[], FaceEngine] = functools.partial(
        FaceEngine, cfg, eng.limits, home=eng.home
    )
    try:
        calibration: Calibration | None = eng.calibration
    except ConfigError as exc:
        logger.warning("no calibration for pack %s: %s", cfg.pack, exc)
        calibration = None
    cache = EmbeddingCache(base.home / "eval-cache.sqlite") if use_cache else None
    variant = engine_variant(cfg)
    try:
        with progress_bar() as progress:  # on stderr, so --json (stdout) does not hide it
            extractor = Extractor(
                factory,
                pack_id=eng.pack_id,
                variant=variant,
                cache=cache,
                workers=workers,
                progress=progress,
            )
            yield extractor, calibration, base.home / "reports"
    finally:
        if cache is not None:
            cache.close()


def _finish(
    report: Report,
    extractor: Extractor,
    calibration: Calibration | None,
    out: Path,
    as_json: bool,
) -> None:
    stats = extractor.stats
    report.summary.setdefault("pack", extractor.pack_id)  # every report names its pack
    report.notes.insert(0, f"Model pack: {extractor.pack_id}.")
    report.details["run"] = {
        "pack": extractor.pack_id,
        "calibration": calibration.label if calibration is not None else None,
        "variant": extractor.variant,
        "workers": stats.workers,
        "images_from_cache": stats.cached,
        "images_computed": stats.computed,
        "seconds": stats.seconds,
    }
    json_path, html_path = report.write(out)
    if as_json:
        emit_json(jsonable(report.summary))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=report.title, show_header=False)
    for key, value in jsonable(report.summary).items():
        table.add_row(key, _fmt(value))
    console = Console()
    console.print(table)
    console.print(
        f"{stats.computed} images computed, {stats.cached} from cache, {stats.seconds:.1f} s"
    )
    console.print(f"report: {html_path}\njson:   {json_path}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _rule(face: FaceRule) -> FaceChoice:
    return "centre" if face == FaceRule.centre else "largest"


ReportOf = Callable[[Extractor, Calibration | None], Report]
"""What makes an eval command's report, once the engine, cache and progress bar are open."""


@dataclass(frozen=True, slots=True)
class _Run:
    """The options every ``eval`` command shares (how faces are found, cached, reported)."""

    data: Path | None
    detector: DetectorName | None
    upsample: int | None
    runtime: RuntimeName | None
    workers: int
    use_cache: bool
    pack: str | None
    out: Path | None
    as_json: bool


def _evaluate(run: _Run, report_of: ReportOf) -> None:
    """Open the engine, the cache and the progress bar, make the report, write and show it."""
    options = (run.data, run.detector, run.upsample, run.runtime, run.workers, run.use_cache)
    with _session(*options, pack=run.pack) as (extractor, calibration, reports):
        report = report_of(extractor, calibration)
    _finish(report, extractor, calibration, run.out or reports, run.as_json)


# The options every eval command takes after its own (the dataset), in --help's order: the
# fields of _Run, with their Typer options and defaults.
_RUN_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("out", OutOpt, None),
    ("as_json", JsonOpt, False),
    ("detector", DetectorOpt, None),
    ("upsample", UpsampleOpt, None),
    ("runtime", RuntimeOpt, None),
    ("pack", PackOpt, None),
    ("workers", WorkersOpt, 2),
    ("use_cache", CacheOpt, True),
    ("data", DataOpt, None),
)


def _eval_command(name: str) -> Callable[[Callable[..., ReportOf]], Callable[..., ReportOf]]:
    """Register ``make`` as ``facegate eval NAME``: its own parameters (the dataset), then the
    options of :data:`_RUN_OPTIONS`; ``make`` reads the dataset and returns what makes the
    report, and the command runs it with :func:`_evaluate`."""

    def register(make: Callable[..., ReportOf]) -> Callable[..., ReportOf]:
        hints = typing.get_type_hints(make, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name]) for p in inspect.signature(make).parameters.values()
        ]
        shared = [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=opt)
            for key, opt, default in _RUN_OPTIONS
        ]

        @functools.wraps(make)
        def command(**values: Any) -> None:
            run = _Run(**{key: values.pop(key) for key, _, _ in _RUN_OPTIONS})
            _evaluate(run, make(**values))

        params = own + shared
        signature = inspect.Signature(params, return_annotation=None)
        command.__signature__ = signature  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
        eval_app.command(name)(command)
        return make

    return register


@_eval_command("verify")
def verify_cmd(
    pairs: Annotated[Path, typer.Option("--pairs", help="LFW pairs.txt or 'a b 1|0' lines.")],
    root: Annotated[Path, typer.Option("--root", help="Folder the pair paths are under.")],
    face: FaceOpt = FaceRule.centre,
) -> ReportOf:
    """1:1 verification: 10-fold accuracy, ROC AUC, EER, TAR at FMR, FNMR at operating points."""
    from facegate.eval.datasets import read_pairs
    from facegate.eval.verify import score_pairs, verification_report

    trials = read_pairs(pairs, root)

    def report_of(extractor: Extractor, calibration: Calibration | None) -> Report:
        try:
            scores = score_pairs(trials, extractor, _rule(face))
            return verification_report(scores, calibration, f"{pairs.name} ({root})")
        except ValueError as exc:  # too few pairs for 10 folds, one label only, ...
            raise ConfigError(f"{pairs}: {exc}") from exc

    return report_of


@_eval_command("identify")
def identify_cmd(
    root: Annotated[Path, typer.Option("--root", help="Folder with one sub-folder per person.")],
    face: FaceOpt = FaceRule.centre,
) -> ReportOf:
    """Open-set 1:N: rank-1/rank-5, FNIR at FPIR 1% and 0.1%, search time."""
    from facegate.eval.datasets import read_identities
    from facegate.eval.identify import evaluate_identification

    identities = read_identities(root)

    def report_of(extractor: Extractor, _: Calibration | None) -> Report:
        try:
            return evaluate_identification(identities, extractor, _rule(face), str(root))
        except ValueError as exc:
            raise ConfigError(f"{root}: {exc}") from exc

    return report_of


@_eval_command("detect")
def detect_cmd(
    fddb: Annotated[Path, typer.Option("--fddb", help="FDDB root (FDDB-folds/, originalPics/).")],
    folds: Annotated[str, typer.Option("--folds", help="Folds, e.g. 1-5 or 1,3.")] = "1-10",
) -> ReportOf:
    """FDDB: detection rate, false positives per image, discrete ROC."""
    from facegate.eval.datasets import parse_folds, read_fddb
    from facegate.eval.detect import evaluate_detection

    dataset = read_fddb(fddb, parse_folds(folds))
    if not dataset.images:
        raise ConfigError(f"no FDDB images found under {fddb} for folds {folds}")

    def report_of(extractor: Extractor, _: Calibration | None) -> Report:
        name = extractor.variant.split("-up", 1)[0]  # detector names may hold a "-"
        return evaluate_detection(dataset, extractor, name, f"FDDB folds {folds}")

    return report_of


@_eval_command("fairness")
def fairness_cmd(
    utkface: Annotated[Path, typer.Option("--utkface", help="Folder of UTKFace images.")],
    face: FaceOpt = FaceRule.largest,
) -> ReportOf:
    """Per gender and race: failure to detect, quality, impostor scores, FMR and max/min ratio."""
    from facegate.eval.datasets import read_utkface
    from facegate.eval.fairness import evaluate_fairness

    faces, unparsed = read_utkface(utkface)
    if not faces:
        raise ConfigError(f"no UTKFace-named images in {utkface}")

    def report_of(extractor: Extractor, calibration: Calibration | None) -> Report:
        report = evaluate_fairness(faces, extractor, calibration, str(utkface), _rule(face))
        report.details["unparsed_names"] = len(unparsed)
        return report

    return report_of


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to the root app."""
    app.add_typer(eval_app, name="eval")
