"""1:1 verification on a pairs file: the LFW 10-fold protocol, ROC, DET, EER, TAR at FMR.

Each image gives one face: the detected face nearest the image centre (LFW's crops put the
subject there), or the largest. When the detector finds no face, the LFW protocol leaves the
handling to the method; facegate reports two numbers:

- ``miss = wrong``: a pair with an image where no face was detected counts as an error;
- ``fallback`` (the headline): the face is aligned with the 5-point landmarker inside a fixed box,
  the median of the boxes the detector found in this dataset, and embedded as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ConfigError
from facegate.eval import metrics as m
from facegate.eval.datasets import Pair
from facegate.eval.extract import Extractor, FaceChoice, RelBox, embed_images
from facegate.eval.report import Report, histogram_plot, line_plot
from facegate.pipeline.calibration import Calibration
from facegate.types import FloatArray

TAR_FMRS = (1e-2, 1e-3)
OPERATING_POINTS = ("fmr=1e-2", "fmr=1e-3", "fmr=1e-4", "fmr=1e-5")


@dataclass(frozen=True, slots=True)
class PairScores:
    """Scores of every pair with and without the fallback, and which could be scored."""

    same: np.ndarray
    folds: np.ndarray
    detected: FloatArray  # NaN where an image had no detected face
    fallback: FloatArray  # NaN where an image could not be read or aligned
    misses: list[Path]
    failures: list[Path]
    fallback_box: RelBox
    images: int


def _score(a: FloatArray | None, b: FloatArray | None) -> float:
    return float(np.dot(a, b)) if a is not None and b is not None else float("nan")


def score_pairs(
    pairs: Sequence[Pair], extractor: Extractor, how: FaceChoice = "centre"
) -> PairScores:
    """Embed every image once (through the cache) and score every pair."""
    emb = embed_images([p for pair in pairs for p in (pair.a, pair.b)], extractor, how)
    folds = np.array([p.fold for p in pairs])
    if (folds < 0).any():
        folds = m.split_folds(len(pairs))
    return PairScores(
        same=np.array([p.same for p in pairs], dtype=bool),
        folds=folds,
        detected=np.array([_score(emb.detected[p.a], emb.detected[p.b]) for p in pairs]),
        fallback=np.array([_score(emb.embeddings[p.a], emb.embeddings[p.b]) for p in pairs]),
        misses=emb.misses,
        failures=emb.failures,
        fallback_box=emb.fallback_box,
        images=len(emb.embeddings),
    )


def _operating_points(
    calibration: Calibration | None, gen: m.Scores, imp: m.Scores
) -> dict[str, dict[str, float]]:
    """FNMR (and the FMR measured here) at the pack's decade operating points."""
    out: dict[str, dict[str, float]] = {}
    for name in OPERATING_POINTS:
        try:
            point = calibration.operating_point(name) if calibration is not None else None
        except ConfigError:
            continue
        if point is not None:
            measured_fmr, fnmr = m.error_rates_at(gen, imp, point.threshold)
            out[point.name] = {
                "threshold": point.threshold,
                "fnmr": fnmr,
                "measured_fmr": measured_fmr,
            }
    return out


def verification_report(scores: PairScores, calibration: Calibration | None, source: str) -> Report:
    """Metrics, tables and plots for scored pairs (``fallback`` scores are the headline)."""
    ok = np.isfinite(scores.fallback)
    s, y = np.nan_to_num(scores.fallback), scores.same
    main = m.kfold_accuracy(s, y, scores.folds, ok)
    det_ok = np.isfinite(scores.detected)
    strict = m.kfold_accuracy(np.nan_to_num(scores.detected), y, scores.folds, det_ok)
    gen, imp = s[ok & y], s[ok & ~y]
    roc = m.roc_curve(gen, imp)
    eer, eer_t = m.eer(gen, imp)
    tar = {f"{f:g}": m.tar_at_fmr(gen, imp, f)[0] for f in TAR_FMRS}
    summary: dict[str, Any] = {
        "accuracy": main.mean,
        "accuracy_std": main.std,
        "auc": m.auc(roc),
        "eer": eer,
        "tar_at_fmr": tar,
        "fnmr_at_operating_point": _operating_points(calibration, gen, imp),
        "accuracy_miss_as_error": strict.mean,
        "accuracy_miss_as_error_std": strict.std,
        "pairs": int(y.size),
        "images": scores.images,
        "detector_misses": len(scores.misses),
        "pairs_with_miss": int(np.sum(~det_ok & ok)),
        "unreadable_images": len(scores.failures),
        "miss_handling": "fallback: 5-point alignment inside the median detected box "
        + "(x1, y1, x2, y2 as fractions of the image: "
        + ", ".join(f"{v:.3f}" for v in scores.fallback_box)
        + ")",
    }
    report = Report("verify", f"1:1 verification on {source}", summary)
    report.details = {
        "folds": {"accuracy": main.accuracies, "threshold": main.thresholds},
        "folds_miss_as_error": {"accuracy": strict.accuracies},
        "accuracy_standard_error": main.standard_error,
        "eer_threshold": eer_t,
        "misses": [str(p) for p in scores.misses],
        "unreadable": [str(p) for p in scores.failures],
    }
    _describe(report, main, strict, roc, gen, imp, len(scores.misses))
    return report


def _describe(
    report: Report,
    main: m.KFoldResult,
    strict: m.KFoldResult,
    roc: m.RocCurve,
    gen: m.Scores,
    imp: m.Scores,
    misses: int,
) -> None:
    """Notes, the per-fold table and the plots."""
    report.notes = [
        "Accuracy: 10-fold protocol, threshold chosen for best accuracy on 9 folds and tested on "
        "the 10th; mean and standard deviation (ddof=0) over folds.",
        f"Detector misses: {misses} images without a detected face. 'miss = wrong' "
        "counts every pair with such an image as an error; the headline uses the fallback.",
        "ROC, AUC, EER and TAR pool all folds' pairs.",
    ]
    report.tables.append(
        (
            "Per fold",
            ["fold", "threshold", "accuracy (fallback)", "accuracy (miss = wrong)"],
            [
                [k + 1, main.thresholds[k], main.accuracies[k], strict.accuracies[k]]
                for k in range(main.accuracies.size)
            ],
        )
    )
    report.figures = {
        "ROC": line_plot([("ROC", roc.fmr, roc.tar)], title="ROC", xlabel="FMR", ylabel="TAR"),
        "DET": line_plot(
            [("DET", roc.fmr, roc.fnmr)],
            title="DET",
            xlabel="FMR",
            ylabel="FNMR",
            logx=True,
            logy=True,
        ),
        "Scores": histogram_plot(
            {"genuine": gen, "impostor": imp}, title="Similarity scores", xlabel="cosine similarity"
        ),
    }
