"""Demographic differentials on UTKFace (NISTIR 8280 / ISO/IEC 19795-10 style).

Per gender, race, gender x race, age band, and race among adults aged 20-59 (children's faces
are much alike to face models, so a group with more children shows a higher FMR for that reason
alone): failure-to-detect rate, mean quality (when the engine gives one) and detector score, the
impostor score distribution and the FMR at one global threshold (the pack's calibrated operating
points), with the max/min ratio across groups.
UTKFace has no identity labels, so every pair of different files counts as an impostor pair
within a group, and there is no FNMR here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from facegate.errors import ConfigError
from facegate.eval import metrics as m
from facegate.eval.datasets import UTK_RACES, UtkFace
from facegate.eval.extract import Extractor, FaceChoice, Task, choose_face
from facegate.eval.report import Report, bar_plot, histogram_plot
from facegate.pipeline.calibration import Calibration
from facegate.types import FloatArray

OPERATING_POINTS = ("fmr=1e-3", "fmr=1e-4")


AGE_BANDS = ((0, 9), (10, 19), (20, 39), (40, 59), (60, 200))
ATTRIBUTES = ("gender", "race", "gender_race", "age", "race_age_20_59")


def _age_band(age: int) -> str:
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}-{hi}" if hi < 200 else f"{lo}+"
    return "unknown"


def _attributes(face: UtkFace) -> dict[str, str | None]:
    """The groups a face belongs to; ``race_age_20_59`` holds adults only (age confounds race
    when groups differ in their share of children, as in UTKFace)."""
    return {
        "gender": face.gender,
        "race": face.race,
        "gender_race": f"{face.gender}/{face.race}",
        "age": _age_band(face.age),
        "race_age_20_59": face.race if 20 <= face.age <= 59 else None,
    }


def _thresholds(calibration: Calibration | None) -> dict[str, float]:
    out = {}
    for name in OPERATING_POINTS:
        try:
            if calibration is not None:
                out[name] = calibration.operating_point(name).threshold
        except ConfigError:
            continue
    return out


def _impostors(vectors: Sequence[FloatArray]) -> m.Scores:
    if len(vectors) < 2:
        return np.zeros(0)
    e = np.stack(vectors).astype(np.float32)
    s = e @ e.T
    return s[np.triu_indices(len(vectors), k=1)].astype(np.float64)


def _group_stats(
    members: list[int],
    found: list[FloatArray | None],
    extra: np.ndarray,
    thresholds: dict[str, float],
) -> tuple[dict[str, Any], m.Scores]:
    vectors = [v for i in members if (v := found[i]) is not None]
    imp = _impostors(vectors)
    det_score, quality = extra[members, 0], extra[members, 1]
    stats: dict[str, Any] = {
        "images": len(members),
        "failure_to_detect": 1.0 - len(vectors) / max(len(members), 1),
        "quality_mean": float(np.nanmean(quality)) if np.isfinite(quality).any() else None,
        "detector_score_mean": float(np.nanmean(det_score))
        if np.isfinite(det_score).any()
        else None,
        "impostor_pairs": int(imp.size),
        "impostor_mean": float(imp.mean()) if imp.size else None,
        "impostor_p99": float(np.quantile(imp, 0.99)) if imp.size else None,
        "fmr": {n: float(np.mean(imp >= t)) if imp.size else None for n, t in thresholds.items()},
    }
    return stats, imp


def _ratio(groups: dict[str, dict[str, Any]], key: str, sub: str | None = None) -> float | None:
    values = [g[key] if sub is None else g[key][sub] for g in groups.values()]
    return m.max_min_ratio([math.nan if v is None else float(v) for v in values])


def evaluate_fairness(
    faces: list[UtkFace],
    extractor: Extractor,
    calibration: Calibration | None,
    source: str,
    how: FaceChoice = "largest",
) -> Report:
    """Detect and embed every image and break the results down by group."""
    records = extractor.run([f.path for f in faces], Task("analyze"), "detect + embed")
    found: list[FloatArray | None] = []
    extra = np.full((len(faces), 2), np.nan)  # detector score, quality of the chosen face
    for i, face in enumerate(faces):
        rec = records[face.path]
        k = choose_face(rec, how) if not rec.error and rec.embeddings.shape[1] else None
        found.append(None if k is None else rec.embeddings[k])
        if k is not None:
            extra[i] = rec.scores[k], rec.quality[k]
    thresholds = _thresholds(calibration)
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    ratios: dict[str, dict[str, float | None]] = {}
    samples: dict[str, m.Scores] = {}
    for attribute in ATTRIBUTES:
        members: dict[str, list[int]] = {}
        for i, face in enumerate(faces):
            group = _attributes(face)[attribute]
            if group is not None:
                members.setdefault(group, []).append(i)
        groups[attribute] = {}
        for group, idx in sorted(members.items()):
            groups[attribute][group], imp = _group_stats(idx, found, extra, thresholds)
            if attribute == "race":
                samples[group] = imp
        ratios[attribute] = {"failure_to_detect": _ratio(groups[attribute], "failure_to_detect")}
        for name in thresholds:
            ratios[attribute][name] = _ratio(groups[attribute], "fmr", name)
    overall, _ = _group_stats(list(range(len(faces))), found, extra, thresholds)
    summary: dict[str, Any] = {
        "images": len(faces),
        "thresholds": thresholds,
        "overall": overall,
        "groups": groups,
        "max_min_ratio": ratios,
    }
    report = Report("fairness", f"Demographic differentials on {source}", summary)
    report.notes = [
        "Impostor pairs: every pair of different images within a group (UTKFace has no identity "
        "labels, so FNMR cannot be measured here). FMR at the pack's calibrated global "
        "thresholds; max/min ratio across groups as NISTIR 8280 (null when a group's rate is 0).",
        "quality_mean is null when the engine reports no quality score.",
    ]
    main = next(iter(thresholds), None)
    report.figures = {
        "Failure to detect by race": bar_plot(
            {g: s["failure_to_detect"] for g, s in groups["race"].items()},
            title="Failure to detect",
            ylabel="rate",
        ),
        "Impostor scores by race": histogram_plot(
            {g: samples.get(g, np.zeros(0)) for g in UTK_RACES if g in samples},
            title="Impostor scores within each race group",
            xlabel="cosine similarity",
            marker=thresholds.get(main) if main else None,
        ),
    }
    if main:
        for attribute in ATTRIBUTES:
            report.figures[f"FMR at {main} by {attribute}"] = bar_plot(
                {g: s["fmr"][main] for g, s in groups[attribute].items()},
                title=f"FMR at the global {main} threshold",
                ylabel="FMR",
            )
    return report
