"""Readers for the evaluation datasets' ground truth (no image decoding here).

- LFW ``pairs.txt`` (view 1 or 2): a header (``10 300``: folds and pairs per class per fold),
  then per fold ``300`` lines ``name i j`` (same person) and ``300`` lines ``name1 i name2 j``
  (different people); image ``i`` of ``name`` is ``name/name_%04d.jpg``.
- Plain pairs: ``a.jpg b.jpg 1|0`` per line, paths relative to a root (``#`` comments allowed).
- Folder-per-person: ``root/<person>/<image>``.
- FDDB: ``FDDB-folds/FDDB-fold-XX.txt`` (image names) and ``-ellipseList.txt`` (per image its
  name, a count, then ``major_radius minor_radius angle cx cy 1`` per face); images are
  ``originalPics/<name>.jpg``. Entries whose image is absent are skipped and counted.
- UTKFace: file names ``age_gender_race_date.jpg.chip.jpg`` (gender 0 male, 1 female; race 0
  White, 1 Black, 2 Asian, 3 Indian, 4 Other).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from facegate.errors import ConfigError
from facegate.eval.metrics import Ellipse

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
UTK_GENDERS = ("male", "female")
UTK_RACES = ("white", "black", "asian", "indian", "other")


class DatasetError(ConfigError):
    """A dataset file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Pair:
    """One verification trial: two image paths, same person or not, and its fold (or -1)."""

    a: Path
    b: Path
    same: bool
    fold: int = -1


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].strip()
            if line:
                yield number, line.split()


def lfw_image(root: Path, name: str, index: str) -> Path:
    """``root/name/name_0001.jpg`` for image ``1`` of ``name``."""
    return root / name / f"{name}_{int(index):04d}.jpg"


def read_lfw_pairs(pairs_file: Path, root: Path) -> list[Pair]:
    """LFW pairs with their folds; the header says how many folds and pairs per class."""
    lines = list(_lines(pairs_file))
    if not lines or not all(tok.isdigit() for tok in lines[0][1]):
        raise DatasetError(f"{pairs_file}: first line must be '<folds> <pairs>' or '<pairs>'")
    header = [int(tok) for tok in lines[0][1]]
    n_folds, per_class = (header[0], header[1]) if len(header) == 2 else (1, header[0] // 2)
    pairs = []
    for position, (number, tok) in enumerate(lines[1:]):
        fold = position // (2 * per_class)
        if len(tok) == 3:
            pairs.append(
                Pair(lfw_image(root, tok[0], tok[1]), lfw_image(root, tok[0], tok[2]), True, fold)
            )
        elif len(tok) == 4:
            pairs.append(
                Pair(lfw_image(root, tok[0], tok[1]), lfw_image(root, tok[2], tok[3]), False, fold)
            )
        else:
            raise DatasetError(f"{pairs_file}:{number}: expected 3 or 4 fields, got {len(tok)}")
    if len(pairs) != n_folds * 2 * per_class:
        raise DatasetError(
            f"{pairs_file}: header promises {n_folds * 2 * per_class} pairs, found {len(pairs)}"
        )
    return pairs


def read_plain_pairs(pairs_file: Path, root: Path) -> list[Pair]:
    """Lines ``a.jpg b.jpg 1|0``; folds are left at -1 (assign them with ``split_folds``)."""
    pairs = []
    for number, tok in _lines(pairs_file):
        if len(tok) != 3 or tok[2] not in ("0", "1"):
            raise DatasetError(f"{pairs_file}:{number}: expected 'a.jpg b.jpg 1|0'")
        pairs.append(Pair(root / tok[0], root / tok[1], tok[2] == "1"))
    return pairs


def read_pairs(pairs_file: Path, root: Path) -> list[Pair]:
    """LFW format when the first line is all numbers, else the plain format."""
    first = next(_lines(pairs_file), None)
    if first is not None and all(tok.isdigit() for tok in first[1]):
        return read_lfw_pairs(pairs_file, root)
    return read_plain_pairs(pairs_file, root)


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def read_identities(root: Path) -> dict[str, list[Path]]:
    """``{person: [images, sorted]}`` for each sub-folder of ``root`` holding images."""
    if not root.is_dir():
        raise DatasetError(f"not a directory: {root}")
    out: dict[str, list[Path]] = {}
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in person.iterdir() if is_image(p))
        if images:
            out[person.name] = images
    return out


@dataclass(frozen=True, slots=True)
class FddbImage:
    """One FDDB image and its annotated face ellipses."""

    name: str
    path: Path
    fold: int
    ellipses: tuple[Ellipse, ...]


@dataclass(slots=True)
class FddbSet:
    """FDDB images found on disk, and the names listed but absent."""

    images: list[FddbImage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def faces(self) -> int:
        return sum(len(im.ellipses) for im in self.images)


def parse_folds(spec: str, highest: int = 10) -> list[int]:
    """``"1-5"`` or ``"1,3,7-8"`` to a sorted list of fold numbers in ``1..highest``."""
    folds: set[int] = set()
    try:
        for part in spec.split(","):
            lo, sep, hi = part.strip().partition("-")
            start, stop = int(lo), int(hi) if sep else int(lo)
            folds.update(range(start, stop + 1))
    except ValueError as exc:
        raise ConfigError(f"bad fold list {spec!r}: expected e.g. '1-5' or '1,3,7'") from exc
    if not folds or min(folds) < 1 or max(folds) > highest:
        raise ConfigError(f"bad fold list {spec!r}: folds run from 1 to {highest}")
    return sorted(folds)


def _read_ellipse_list(path: Path) -> Iterator[tuple[str, list[Ellipse]]]:
    tokens = [tok for _, tok in _lines(path)]
    i = 0
    while i < len(tokens):
        name, count = tokens[i][0], int(tokens[i + 1][0])
        ellipses = []
        for tok in tokens[i + 2 : i + 2 + count]:
            major, minor, angle, cx, cy = (float(t) for t in tok[:5])
            ellipses.append(Ellipse(major, minor, angle, cx, cy))
        if len(ellipses) != count:
            raise DatasetError(f"{path}: image {name} promises {count} ellipses")
        yield name, ellipses
        i += 2 + count


def read_fddb(root: Path, folds: list[int]) -> FddbSet:
    """The FDDB images of ``folds`` under ``root`` (``FDDB-folds/`` and ``originalPics/``)."""
    out = FddbSet()
    for fold in folds:
        listing = root / "FDDB-folds" / f"FDDB-fold-{fold:02d}-ellipseList.txt"
        for name, ellipses in _read_ellipse_list(listing):
            path = root / "originalPics" / f"{name}.jpg"
            if path.is_file():
                out.images.append(FddbImage(name, path, fold, tuple(ellipses)))
            else:
                out.missing.append(name)
    return out


@dataclass(frozen=True, slots=True)
class UtkFace:
    """A UTKFace image and its labels (as the file name states them)."""

    path: Path
    age: int
    gender: str
    race: str


def parse_utkface_name(path: Path) -> UtkFace | None:
    """Labels from ``age_gender_race_date.jpg.chip.jpg``; None when the name does not parse."""
    parts = path.name.split("_")
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    age, gender, race = int(parts[0]), int(parts[1]), int(parts[2])
    if gender >= len(UTK_GENDERS) or race >= len(UTK_RACES):
        return None
    return UtkFace(path, age, UTK_GENDERS[gender], UTK_RACES[race])


def read_utkface(root: Path) -> tuple[list[UtkFace], list[Path]]:
    """Labelled images under ``root`` and the image files whose names do not parse."""
    if not root.is_dir():
        raise DatasetError(f"not a directory: {root}")
    good, bad = [], []
    for path in sorted(p for p in root.iterdir() if is_image(p)):
        face = parse_utkface_name(path)
        if face is None:
            bad.append(path)
        else:
            good.append(face)
    return good, bad
