"""Labelled liveness images: reading a folder, and texture features of its largest faces.

A folder is either ``labels.csv`` with ``path,label`` (and optionally ``subject``, ``session``)
columns, where ``label`` is ``live`` for bona fide images and anything else names an attack
type (``print``, ``replay``, ...); or sub-folders ``live/`` and one per attack type.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegate.errors import ConfigError, FacegateError
from facegate.imageio import decode
from facegate.liveness.texture import texture_features
from facegate.pipeline.engine import FaceEngine, largest_face_index

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
LIVE = "live"
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class PadSample:
    """One labelled image: ``attack`` is ``None`` for a bona fide (live) image."""

    path: Path
    attack: str | None
    subject: str
    session: str

    @property
    def live(self) -> bool:
        return self.attack is None


def read_pad_folder(root: Path) -> list[PadSample]:
    """The labelled images under ``root`` (see the module docstring)."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder")
    labels = root / "labels.csv"
    if labels.is_file():
        return _from_csv(root, labels)
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        attack = None if sub.name.lower() == LIVE else sub.name
        for path in sorted(sub.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                out.append(PadSample(path, attack, "", ""))
    if not out:
        raise ConfigError(f"{root}: no labels.csv and no images under live/ and attack folders")
    return out


def _from_csv(root: Path, labels: Path) -> list[PadSample]:
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"path", "label"} <= set(reader.fieldnames):
            raise ConfigError(f"{labels}: needs 'path' and 'label' columns")
        rows = list(reader)
    out = []
    for row in rows:
        label = row["label"].strip().lower()
        out.append(
            PadSample(
                root / row["path"],
                None if label in (LIVE, "bona-fide", "bonafide") else label,
                row.get("subject", "") or "",
                row.get("session", "") or "",
            )
        )
    if not out:
        raise ConfigError(f"{labels} lists no images")
    return out


def texture_dataset(
    engine: FaceEngine, samples: Sequence[PadSample], progress: ProgressFn | None = None
) -> tuple[np.ndarray, list[PadSample], list[tuple[PadSample, str]]]:
    """Texture features of the largest face of each image. Images without a face, or that
    cannot be read, are returned apart with the reason (they count as neither)."""
    rows: list[np.ndarray] = []
    kept: list[PadSample] = []
    skipped: list[tuple[PadSample, str]] = []
    for i, sample in enumerate(samples):
        try:
            pixels = decode(sample.path, engine.limits)
            faces = engine.detect(pixels).faces
        except FacegateError as exc:
            skipped.append((sample, str(exc)))
            continue
        if not faces:
            skipped.append((sample, "no face found"))
        else:
            rows.append(texture_features(pixels, faces[largest_face_index(faces)].box))
            kept.append(sample)
        if progress is not None:
            progress("texture features", i + 1, len(samples))
    features = np.stack(rows) if rows else np.zeros((0, 1))
    return features, kept, skipped
