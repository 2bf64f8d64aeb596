"""Operating points: decision thresholds named by the error rate they were calibrated for.

A pack ships an impostor table: pairs ``(fmr, threshold)`` measured from similarity scores of
different people (see docs/CALIBRATION.md and ``bench/calibrate.py``). ``threshold_for_fmr``
interpolates that table on a log scale.

Open-set 1:N search compares a probe with every enrolled subject, so a stranger is falsely
identified when *any* of ``N`` impostor scores crosses the threshold. With independent scores,
``FPIR = 1 - (1 - FMR) ** N``; :meth:`Calibration.threshold_for_fpir` therefore looks up the
per-comparison FMR ``1 - (1 - FPIR) ** (1 / N)``, so the threshold rises as the gallery grows.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from facegate.errors import ConfigError
from facegate.models.registry import PackRegistry
from facegate.models.specs import Pack
from facegate.types import OperatingPoint

logger = logging.getLogger(__name__)


@lru_cache(maxsize=256)
def _warn_beyond_range(
    pack: str, fpir: float, gallery_size: int, needed: float, floor: float
) -> None:
    logger.warning(
        "fpir=%g over %d subjects needs a per-comparison fmr of %.2g, below the %.2g that pack %s "
        "was calibrated for: using its highest calibrated threshold, so the real FPIR is higher",
        fpir,
        gallery_size,
        needed,
        floor,
        pack,
    )


def parse_operating_point(name: str) -> tuple[str, float]:
    """Split ``"fmr=1e-4"`` into ``("fmr", 1e-4)``; the kind is ``fmr`` or ``fpir``."""
    kind, sep, value = name.strip().lower().partition("=")
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not sep or kind not in ("fmr", "fpir") or not 0.0 < rate < 1.0:
        raise ConfigError(
            f"bad operating point {name!r}: expected 'fmr=RATE' or 'fpir=RATE' with 0 < RATE < 1,"
            " e.g. 'fmr=1e-4'"
        )
    return kind, rate


@dataclass(frozen=True, slots=True)
class Calibration:
    """A pack's impostor score table and the thresholds derived from it."""

    pack: str
    fmr_table: tuple[tuple[float, float], ...]  # (fmr, threshold), fmr decreasing
    impostor_scores: int
    source: str
    kind: str = "shipped"  # "shipped" with the pack, or "deployment" (the operator's own)

    @property
    def label(self) -> str:
        """Names this calibration in results: ``<pack>:shipped`` or ``<pack>:deployment``."""
        return f"{self.pack}:{self.kind}"

    @property
    def min_fmr(self) -> float:
        return self.fmr_table[-1][0]

    def threshold_for_fmr(self, fmr: float) -> float:
        """The similarity threshold whose measured false-match rate is ``fmr``."""
        table = self.fmr_table
        if fmr >= table[0][0]:
            return table[0][1]
        if fmr < self.min_fmr:
            raise ConfigError(
                f"fmr={fmr:g} is below what pack {self.pack!r} was calibrated for "
                f"(smallest fmr={self.min_fmr:g} from {self.impostor_scores} impostor scores)"
            )
        for (hi_fmr, hi_t), (lo_fmr, lo_t) in zip(table, table[1:], strict=False):
            if lo_fmr <= fmr <= hi_fmr:
                span = math.log10(hi_fmr) - math.log10(lo_fmr)
                w = (math.log10(hi_fmr) - math.log10(fmr)) / span if span > 0 else 0.0
                return hi_t + w * (lo_t - hi_t)
        return table[-1][1]

    def threshold_for_fpir(self, fpir: float, gallery_size: int) -> float:
        """Threshold for open-set search over ``gallery_size`` subjects at a target FPIR."""
        n = max(1, gallery_size)
        per_comparison = -math.expm1(math.log1p(-fpir) / n)
        if per_comparison < self.min_fmr:
            _warn_beyond_range(self.pack, fpir, n, per_comparison, self.min_fmr)
        return self.threshold_for_fmr(max(per_comparison, self.min_fmr))

    def operating_point(self, name: str, gallery_size: int = 1) -> OperatingPoint:
        """Resolve ``"fmr=1e-4"`` or ``"fpir=1e-2"`` (for a gallery of ``gallery_size``)."""
        kind, rate = parse_operating_point(name)
        canonical = f"{kind}={rate:g}"
        if kind == "fmr":
            return OperatingPoint(canonical, self.threshold_for_fmr(rate), self.label)
        return OperatingPoint(canonical, self.threshold_for_fpir(rate, gallery_size), self.label)

    @staticmethod
    def from_dict(data: dict[str, Any], kind: str = "shipped") -> Calibration:
        rows = sorted(((float(f), float(t)) for f, t in data["fmr_table"]), reverse=True)
        if not rows:
            raise ValueError("the fmr table is empty")
        return Calibration(
            pack=str(data["pack"]),
            fmr_table=tuple(rows),
            impostor_scores=int(data["impostor_scores"]),
            source=str(data.get("source", "")),
            kind=kind,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "fmr_table": [list(row) for row in self.fmr_table],
            "impostor_scores": self.impostor_scores,
            "source": self.source,
        }


CALIBRATION_DIR = "calibration"


def deployment_calibration_path(home: Path, pack: str) -> Path:
    """Where ``facegate models calibrate`` writes a deployment's calibration of ``pack``."""
    return Path(home) / CALIBRATION_DIR / f"{pack}.json"


def _deployment(pack: Pack, home: Path | None) -> Calibration | None:
    if home is None:
        return None
    path = deployment_calibration_path(home, pack.name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"deployment calibration {path} is not readable: {exc}") from None
    if not isinstance(data, dict) or data.get("pack_id") != pack.pack_id:
        logger.warning(
            "deployment calibration %s is for another embedding space than pack %s; ignored",
            path,
            pack.name,
        )
        return None
    try:
        return Calibration.from_dict(data["calibration"], kind="deployment")
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"deployment calibration {path} is malformed: {exc}") from None


def load_pack_calibration(pack: Pack | str, home: Path | None = None) -> Calibration:
    """The calibration a pack runs with: the deployment's own when ``home`` holds one for this
    pack's embedding space (``facegate models calibrate``), else the one in its manifest.

    ``pack`` is a name (shipped, or a user pack of ``home``) or a :class:`Pack`.
    """
    if isinstance(pack, str):
        pack = PackRegistry(home).get(pack)
    own = _deployment(pack, home)
    if own is not None:
        return own
    if pack.calibration is None:
        raise ConfigError(
            f"pack {pack.name!r} has no calibration; run: facegate models calibrate {pack.name} "
            "--impostors DIR"
        )
    try:
        return Calibration.from_dict(dict(pack.calibration))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"pack {pack.name!r} has a malformed calibration: {exc}") from None
