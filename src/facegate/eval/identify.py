"""Open-set 1:N identification on a folder-per-person dataset (NIST FRTE style).

Gallery: the first image (in name order) of each person with two or more images. Mated searches:
those people's other images. Non-mated searches: people with a single image, who are not
enrolled, so the right answer is "unknown". Search is an exhaustive inner product over the
gallery's unit embeddings (the same arithmetic as the gallery's exact index), so the numbers
describe the model, not an approximate index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facegate.eval import metrics as m
from facegate.eval.extract import Extractor, FaceChoice, embed_images
from facegate.eval.report import Report, line_plot
from facegate.types import FloatArray

FPIRS = (1e-2, 1e-3)
MAX_RANK = 20


@dataclass(slots=True)
class OpenSetSplit:
    """Who is enrolled and who searches."""

    gallery: list[Path] = field(default_factory=list)
    mated: list[tuple[Path, int]] = field(default_factory=list)  # (probe, gallery index)
    nonmated: list[Path] = field(default_factory=list)


def split_open_set(identities: dict[str, list[Path]]) -> OpenSetSplit:
    """Gallery, mated and non-mated searches from ``{person: images}``."""
    split = OpenSetSplit()
    for _, images in sorted(identities.items()):
        if len(images) >= 2:
            split.mated += [(probe, len(split.gallery)) for probe in images[1:]]
            split.gallery.append(images[0])
        else:
            split.nonmated.extend(images)
    return split


@dataclass(frozen=True, slots=True, eq=False)
class SearchResults:
    """Mate scores and ranks of mated searches, top scores of non-mated ones."""

    mate_scores: m.Scores
    ranks: m.IntArray
    nonmated_top: m.Scores
    gallery_size: int
    not_enrolled: int
    seconds_per_search: float


def search(split: OpenSetSplit, vectors: dict[Path, FloatArray | None]) -> SearchResults:
    """Run every search against the gallery. A gallery image without a template is not enrolled
    (its mated searches are left out); a probe without one misses (mated) or returns nobody."""
    enrolled = [i for i, p in enumerate(split.gallery) if vectors[p] is not None]
    column = {g: c for c, g in enumerate(enrolled)}
    gallery = np.stack([v for i in enrolled if (v := vectors[split.gallery[i]]) is not None])
    mated = [(p, column[g]) for p, g in split.mated if g in column]
    dim = gallery.shape[1]

    def matrix(paths: list[Path]) -> FloatArray:
        zero = np.zeros(dim, np.float32)
        rows: list[FloatArray] = []
        for p in paths:
            v = vectors[p]
            rows.append(zero if v is None else v)
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)

    probes_m, probes_n = matrix([p for p, _ in mated]), matrix(split.nonmated)
    start = time.perf_counter()
    scores_m, scores_n = probes_m @ gallery.T, probes_n @ gallery.T
    elapsed = time.perf_counter() - start
    missing_m = np.array([vectors[p] is None for p, _ in mated], dtype=bool)
    missing_n = np.array([vectors[p] is None for p in split.nonmated], dtype=bool)
    truth = np.array([c for _, c in mated], dtype=np.int64)
    mate = scores_m[np.arange(truth.size), truth].astype(np.float64)
    ranks = m.mate_ranks(scores_m, truth)
    mate[missing_m], ranks[missing_m] = -np.inf, len(enrolled) + 1
    top = scores_n.max(axis=1).astype(np.float64) if scores_n.size else np.zeros(0)
    top[missing_n] = -np.inf
    searches = max(1, truth.size + top.size)
    return SearchResults(
        mate, ranks, top, len(enrolled), len(split.gallery) - len(enrolled), elapsed / searches
    )


def evaluate_identification(
    identities: dict[str, list[Path]], extractor: Extractor, how: FaceChoice, source: str
) -> Report:
    """Embed, search and report."""
    split = split_open_set(identities)
    if not split.gallery or not split.mated or not split.nonmated:
        raise ValueError("need people with two or more images and people with one image")
    images = split.gallery + [p for p, _ in split.mated] + split.nonmated
    emb = embed_images(images, extractor, how)
    res = search(split, emb.embeddings)
    curve = m.cmc(res.ranks, MAX_RANK)
    fnir = {
        f"{f:g}": m.fnir_at_fpir(res.mate_scores, res.ranks, res.nonmated_top, f) for f in FPIRS
    }
    summary: dict[str, Any] = {
        "rank1": float(curve[0]),
        "rank5": float(curve[4]),
        "fnir_at_fpir": {k: v[0] for k, v in fnir.items()},
        "threshold_at_fpir": {k: v[1] for k, v in fnir.items()},
        "gallery_size": res.gallery_size,
        "mated_searches": int(res.ranks.size),
        "nonmated_searches": int(res.nonmated_top.size),
        "search_ms": res.seconds_per_search * 1000.0,
        "detector_misses": len(emb.misses),
        "not_enrolled": res.not_enrolled,
        "unreadable_images": len(emb.failures),
    }
    report = Report("identify", f"Open-set 1:N identification on {source}", summary)
    report.details = {"cmc": curve, "misses": [str(p) for p in emb.misses]}
    report.notes = [
        "Gallery: first image of each person with 2+ images; mated searches: their other "
        "images; non-mated searches: people with one image (the right answer is 'unknown').",
        "FNIR at FPIR: rank-1 mate at or above the threshold where that fraction of non-mated "
        "searches returns someone. search_ms: exhaustive float32 inner product per search.",
        "Images without a detected face are embedded at the median detected box (fallback).",
    ]
    fpir, fnir_curve = m.open_set_curve(res.mate_scores, res.ranks, res.nonmated_top)
    report.figures = {
        "CMC": line_plot(
            [("CMC", np.arange(1, MAX_RANK + 1), curve)],
            title="CMC",
            xlabel="rank",
            ylabel="identification rate",
        ),
        "FNIR vs FPIR": line_plot(
            [("rank 1", fpir, fnir_curve)],
            title="Open-set DET",
            xlabel="FPIR",
            ylabel="FNIR",
            logx=True,
        ),
    }
    return report
