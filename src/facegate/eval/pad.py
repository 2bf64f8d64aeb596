"""Presentation-attack detection metrics (ISO/IEC 30107-3) and the passive baseline's evaluation.

Terms: an *attack presentation* wrongly accepted as bona fide counts towards APCER (per attack
type: the proportion of that type's presentations accepted); a *bona fide presentation* wrongly
rejected counts towards BPCER. ACER is their mean (30107-3 names it as a summary; it hides which
error dominates, so APCER and BPCER are always shown). Scores are "higher = more likely bona
fide"; a presentation is accepted when its score is at or above the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.eval.pad_data import PadSample
from facegate.eval.report import Report, histogram_plot
from facegate.liveness.texture import TextureModel, train_texture


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """APCER per attack type (and its worst), BPCER and ACER at one threshold, with counts."""

    threshold: float
    apcer: dict[str, float]
    attacks: dict[str, int]
    bpcer: float
    bona_fide: int

    @property
    def max_apcer(self) -> float:
        return max(self.apcer.values(), default=0.0)

    @property
    def acer(self) -> float:
        return (self.max_apcer + self.bpcer) / 2.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "apcer": self.apcer,
            "apcer_max": self.max_apcer,
            "attack_presentations": self.attacks,
            "bpcer": self.bpcer,
            "bona_fide_presentations": self.bona_fide,
            "acer": self.acer,
        }


def error_rates(
    live_scores: npt.ArrayLike, attack_scores: Mapping[str, npt.ArrayLike], threshold: float
) -> ErrorRates:
    """APCER of each attack type, BPCER and ACER at ``threshold``."""
    live = np.asarray(live_scores, np.float64)
    apcer, counts = {}, {}
    for kind, scores in attack_scores.items():
        arr = np.asarray(scores, np.float64)
        counts[kind] = int(arr.size)
        apcer[kind] = float(np.mean(arr >= threshold)) if arr.size else 0.0
    bpcer = float(np.mean(live < threshold)) if live.size else 0.0
    return ErrorRates(float(threshold), apcer, counts, bpcer, int(live.size))


def eer_threshold(live_scores: npt.ArrayLike, attack_scores: npt.ArrayLike) -> float:
    """The threshold (among the observed scores) where APCER and BPCER are closest."""
    live = np.asarray(live_scores, np.float64)
    attack = np.asarray(attack_scores, np.float64)
    candidates = np.unique(np.concatenate([live, attack]))
    gaps = [abs(np.mean(attack >= t) - np.mean(live < t)) for t in candidates]
    return float(candidates[int(np.argmin(gaps))])


def threshold_at_bpcer(live_scores: npt.ArrayLike, bpcer: float) -> float:
    """The highest observed threshold whose BPCER is at most ``bpcer``."""
    live = np.sort(np.asarray(live_scores, np.float64))
    allowed = int(np.floor(bpcer * live.size))
    return float(live[min(allowed, live.size - 1)])


def split_by_subject(samples: Sequence[PadSample]) -> tuple[list[str], list[str]]:
    """Subjects in two halves, alternating in sorted order (every subject in one half only)."""
    subjects = sorted({s.subject for s in samples})
    return subjects[0::2], subjects[1::2]


def evaluate_passive(
    features: np.ndarray, samples: Sequence[PadSample], source: str
) -> tuple[Report, TextureModel]:
    """Train the texture baseline on half the subjects and measure it on the other half."""
    train_subjects, test_subjects = split_by_subject(samples)
    train = np.array([s.subject in train_subjects for s in samples])
    live = np.array([s.live for s in samples])
    model = train_texture(
        features[train], live[train].tolist(), trained_on={"subjects": train_subjects}
    )
    scores = model.probability(features[~train])
    test = [s for s, t in zip(samples, train, strict=True) if not t]
    live_scores = scores[live[~train]]
    by_kind: dict[str, list[float]] = {}
    for s, score in zip(test, scores, strict=True):
        if s.attack is not None:
            by_kind.setdefault(s.attack, []).append(float(score))
    all_attacks = np.concatenate([np.asarray(v) for v in by_kind.values()])
    at_eer = error_rates(live_scores, by_kind, eer_threshold(live_scores, all_attacks))
    at_b5 = error_rates(live_scores, by_kind, threshold_at_bpcer(live_scores, 0.05))
    at_train = error_rates(live_scores, by_kind, model.threshold)
    summary = {
        "method": model.method,
        "train_subjects": train_subjects,
        "test_subjects": test_subjects,
        "test_bona_fide": at_eer.bona_fide,
        "test_attacks": at_eer.attacks,
        "at_eer": at_eer.to_dict(),
        "at_bpcer_5pct": at_b5.to_dict(),
        "at_training_threshold": at_train.to_dict(),
    }
    report = Report("pad-passive", f"Passive PAD: texture baseline on {source}", summary)
    report.tables.append(_per_group_table(test, scores, at_eer.threshold))
    report.notes.append(
        "Trained on the subjects listed as train_subjects and tested on the others (no person "
        "in both). The EER and BPCER 5% thresholds are chosen on the test scores (oracle "
        "operating points, to describe separability); at_training_threshold uses the "
        "threshold fixed on training data (bpcer=5% there), which is what a deployment gets."
    )
    report.figures["test scores (live vs print)"] = histogram_plot(
        {"live": live_scores, "attack": all_attacks},
        title="texture baseline scores, test subjects",
        xlabel="P(live)",
        marker=at_eer.threshold,
    )
    return report, model


def _per_group_table(
    test: Sequence[PadSample], scores: np.ndarray, threshold: float
) -> tuple[str, list[str], list[list[Any]]]:
    errors: Counter[tuple[str, str, str]] = Counter()
    totals: Counter[tuple[str, str, str]] = Counter()
    for s, score in zip(test, scores, strict=True):
        key = (s.subject, s.session, s.attack or "live")
        totals[key] += 1
        wrong = score < threshold if s.live else score >= threshold
        errors[key] += int(wrong)
    rows = [
        [subj, sess, kind, totals[(subj, sess, kind)], errors[(subj, sess, kind)]]
        for subj, sess, kind in sorted(totals)
    ]
    head = ["subject", "session", "label", "images", "errors at EER threshold"]
    return ("Per subject and session (test half)", head, rows)
