"""``facegate models calibrate PACK --impostors DIR``: a deployment's own operating points.

``DIR`` holds photos of different people, one photo each: image files directly in it, or one
folder per person (its first image, by name, is used). Each photo's largest face is embedded
with the pack; every pair of people is an impostor pair, and the thresholds for each
false-match rate are written to ``<data dir>/calibration/<pack>.json``, which then overrides
the pack's shipped calibration in this data dir (results name it ``<pack>:deployment``).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, settings
from facegate.config import EngineConfig
from facegate.errors import ConfigError, ImageError
from facegate.eval.datasets import IMAGE_SUFFIXES
from facegate.pipeline.calibration import deployment_calibration_path
from facegate.pipeline.calibration_fit import fit_calibration
from facegate.pipeline.engine import FaceEngine, largest_face_index

CHUNK = 16


def impostor_photos(folder: Path) -> list[Path]:
    """One photo per person: the images directly in ``folder``, plus the first of each subfolder."""
    if not folder.is_dir():
        raise ConfigError(f"--impostors {folder} is not a folder")
    photos = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            photos.append(entry)
        elif entry.is_dir():
            first = sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            photos.extend(first[:1])
    return photos


def _embed(engine: FaceEngine, photos: list[Path]) -> tuple[np.ndarray, int]:
    """One embedding per photo with a face (largest face); and how many photos gave none."""
    from rich.console import Console
    from rich.progress import Progress

    vectors: list[np.ndarray] = []
    missed = 0
    console = Console(stderr=True)
    with Progress(console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("embedding", total=len(photos))
        for start in range(0, len(photos), CHUNK):
            chunk = photos[start : start + CHUNK]
            for path in chunk:
                try:
                    faces = [f for f in engine.analyze(path).faces if f.embedding is not None]
                except ImageError:
                    faces = []
                if faces:
                    vectors.append(faces[largest_face_index(faces)].embedding.vector)  # type: ignore[union-attr]
                else:
                    missed += 1
            bar.update(task, advance=len(chunk))
    dim = engine.pack.roles.embedder.output_dim if engine.pack.roles.embedder else 0
    return (np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)), missed


def _write_atomic(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(document, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def calibrate(
    pack: Annotated[str, typer.Argument(help="The pack to calibrate, e.g. dlib.")],
    impostors: Annotated[
        Path, typer.Option("--impostors", help="Photos of different people, one each.")
    ],
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Calibrate PACK's operating points on your own population (overrides the shipped ones)."""
    base = settings(data)
    photos = impostor_photos(impostors)
    config = EngineConfig.model_validate({**base.engine.model_dump(), "pack": pack})
    engine = FaceEngine(config, base.image, home=base.home)
    vectors, missed = _embed(engine, photos)
    source = (
        f"{len(vectors)} people from {impostors} (no face found for {missed}), "
        f"detector {config.detector} upsample {config.upsample}, largest face; "
        "facegate models calibrate"
    )
    calibration, stats = fit_calibration(vectors, engine.pack.name, source)
    path = deployment_calibration_path(base.home, engine.pack.name)
    document = {
        "pack": engine.pack.name,
        "pack_id": engine.pack_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "people": len(vectors),
        "no_face": missed,
        "calibration": calibration.to_dict(),
        "impostor_stats": stats,
    }
    _write_atomic(path, document)
    points = {
        f"fmr={fmr:g}": round(calibration.threshold_for_fmr(fmr), 6)
        for fmr in (1e-2, 1e-3, 1e-4, 1e-5)
        if fmr >= calibration.min_fmr
    }
    if as_json:
        emit_json(
            {**document, "path": str(path), "thresholds": points, "min_fmr": calibration.min_fmr}
        )
        return
    typer.echo(
        f"calibrated pack {engine.pack.name} on {len(vectors)} people ({missed} without a face): "
        f"{calibration.impostor_scores:,} impostor scores, down to fmr={calibration.min_fmr:g}"
    )
    for name, threshold in points.items():
        typer.echo(f"  {name}: threshold {threshold:.4f}")
    typer.echo(f"written {path}; it overrides the shipped calibration in this data dir")
