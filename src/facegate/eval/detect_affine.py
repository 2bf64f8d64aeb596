"""FDDB with each detector's boxes mapped to the ellipses' framing by one fixed affine.

FDDB's raw rule (box/ellipse overlap >= 0.5) also measures how a detector frames a face: a
detector whose boxes are tighter than FDDB's head ellipses loses faces it did find. To compare
detectors on *where* they find faces, :func:`ellipse_affine_report` fits one
:class:`~facegate.pipeline.box_adapt.BoxAffine` on folds 1-2 (the median centre shift and side
ratios from each detection to the bounding box of the ellipse it overlaps most (IoU >= 0.15,
the box's centre inside the ellipse), then one common
side scale chosen from a fixed grid to give the best rate at 0.1 false positives per image on
those folds), applies it unchanged to folds 3-5, and scores them with the same raw rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facegate.eval import metrics as m
from facegate.eval.cache import FaceRecord
from facegate.eval.datasets import FddbImage
from facegate.pipeline.box_adapt import BoxAffine, fit_box_affine, pair_boxes
from facegate.types import BBox

FIT_FOLDS = (1, 2)
SCALE_GRID = tuple(np.round(np.arange(0.70, 1.101, 0.025), 3).tolist())


def _boxes(rec: FaceRecord, affine: BoxAffine | None) -> list[BBox]:
    rows = rec.boxes if affine is None else affine.apply_array(rec.boxes)
    return [BBox(*map(float, row)) for row in rows]


def rate_at(
    images: Sequence[FddbImage],
    records: dict[Any, FaceRecord],
    affine: BoxAffine | None,
    fp_per_image: float,
) -> tuple[float, float]:
    """Detection rate at ``fp_per_image`` on ``images`` (boxes mapped by ``affine``), and the
    false positives per image at the detector's own threshold."""
    increments, scores = [], []
    for image in images:
        rec = records[image.path]
        inc = m.match_detections(image.ellipses, _boxes(rec, affine), rec.scores)
        increments.append(inc)
        scores.append(rec.scores.astype(np.float64))
    faces = sum(len(im.ellipses) for im in images)
    roc = m.discrete_roc(increments, scores, faces)
    rate, _ = roc.rate_at_fp(fp_per_image * len(images))
    fp = int(roc.false_positives[-1]) if roc.thresholds.size else 0
    return rate, fp / max(len(images), 1)


def fit_ellipse_affine(
    images: Sequence[FddbImage], records: dict[Any, FaceRecord], fp_per_image: float
) -> BoxAffine | None:
    """The affine fitted on ``images`` (see the module docstring); None without any pair."""
    src, dst = [], []
    for image in images:
        boxes = records[image.path].boxes
        targets = [e.bbox() for e in image.ellipses]
        target_rows = [[b.x1, b.y1, b.x2, b.y2] for b in targets]
        for i, j in pair_boxes(boxes, target_rows, min_iou=0.15):
            cx, cy = (boxes[i, 0] + boxes[i, 2]) / 2, (boxes[i, 1] + boxes[i, 3]) / 2
            if image.ellipses[j].contains(np.array([cx]), np.array([cy]))[0]:
                src.append(boxes[i])
                dst.append(target_rows[j])
    if not src:
        return None
    base = fit_box_affine(src, dst)
    return max(
        (base.scaled(k) for k in SCALE_GRID),
        key=lambda a: rate_at(images, records, a, fp_per_image)[0],
    )


def ellipse_affine_report(
    images: Sequence[FddbImage], records: dict[Any, FaceRecord], fp_per_image: float
) -> dict[str, Any] | None:
    """Fit on folds 1-2, score folds 3-5 raw and mapped; None unless both sets are present."""
    fit = [im for im in images if im.fold in FIT_FOLDS]
    test = [im for im in images if im.fold not in FIT_FOLDS]
    if not fit or not test:
        return None
    affine = fit_ellipse_affine(fit, records, fp_per_image)
    if affine is None:
        return None
    raw_rate, _ = rate_at(test, records, None, fp_per_image)
    mapped_rate, mapped_fp = rate_at(test, records, affine, fp_per_image)
    return {
        "fitted_on_folds": sorted({im.fold for im in fit}),
        "scored_on_folds": sorted({im.fold for im in test}),
        "affine": {k: round(v, 4) for k, v in affine.as_dict().items()},
        "raw_rate_at_0.1_fppi": raw_rate,
        "mapped_rate_at_0.1_fppi": mapped_rate,
        "mapped_false_positives_per_image": mapped_fp,
    }
