"""Fit each detector's box adapter to dlib's framing, and measure what it does for landmarks.

dlib's 5- and 68-point predictors were trained on boxes of dlib's HOG detector. For every other
detector this fits one fixed :class:`facegate.pipeline.box_adapt.BoxAffine` from its boxes to
HOG's (upsample 1) on the same faces of LFW images (every STEP-th image of the 7,701 the view-2
pairs use; one-to-one pairs at IoU >= 0.3), then places dlib's 5 points on held-out images
(the odd-numbered half of the sample is held out, the even half fits) from (a) HOG's own box,
(b) the detector's raw box, (c) the adapted box, and reports the mean distance of (b) and (c)
from (a) in inter-ocular distances (outer eye corners).

    .venv/bin/python bench/box_adapters.py --home DATA_DIR [--step 20]

DATA_DIR must have mtcnn and blazeface installed (``facegate models install``). Writes
bench/results/box_adapters.json; the constants in facegate/models/detectors.py come from it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from facegate.eval.datasets import read_pairs
from facegate.imageio import decode
from facegate.models.detectors import build_standalone_detector, installed_detectors
from facegate.models.dlib_runtime import DlibHogDetector, DlibShapePredictor
from facegate.pipeline.box_adapt import BoxAffine, fit_box_affine, pair_boxes
from facegate.types import BBox

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw"


def _rows(found: list[tuple[BBox, float]]) -> np.ndarray:
    return np.array([[b.x1, b.y1, b.x2, b.y2] for b, _ in found], np.float64).reshape(-1, 4)


def _error(shape: DlibShapePredictor, image: np.ndarray, box: BBox, ref: np.ndarray) -> float:
    pts = shape.landmarks(image, box).points
    iod = float(np.linalg.norm(ref[0] - ref[2]))
    return float(np.linalg.norm(pts - ref, axis=1).mean()) / max(iod, 1e-6)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--step", type=int, default=20)
    args = ap.parse_args()
    paths = sorted({p for t in read_pairs(LFW / "pairs.txt", LFW) for p in (t.a, t.b)})
    sample = paths[:: args.step]
    images = [decode(p) for p in sample]
    hog, shape = DlibHogDetector(1), DlibShapePredictor(5)
    hog_rows = [_rows(hog.detect(im)) for im in images]
    names = [n for n in installed_detectors(args.home) if n not in ("hog", "cnn")]
    out: dict[str, Any] = {"images": len(images), "step": args.step, "detectors": {}}
    for name in names:
        det = build_standalone_detector(name, args.home)
        t0 = time.perf_counter()
        rows = [_rows(det.detect(im)) for im in images]
        seconds = time.perf_counter() - t0
        pairs = [(k, i, j) for k in range(len(images)) for i, j in pair_boxes(rows[k], hog_rows[k])]
        fit = [p for p in pairs if p[0] % 2 == 0]
        test = [p for p in pairs if p[0] % 2 == 1]
        affine = fit_box_affine(
            [rows[k][i] for k, i, _ in fit], [hog_rows[k][j] for k, _, j in fit]
        )
        raw_err, adapted_err = [], []
        for k, i, j in test:
            ref = shape.landmarks(images[k], BBox(*hog_rows[k][j])).points
            box = BBox(*rows[k][i])
            raw_err.append(_error(shape, images[k], box, ref))
            adapted_err.append(_error(shape, images[k], affine.apply(box), ref))
        out["detectors"][name] = {
            "affine": {k: round(v, 4) for k, v in affine.as_dict().items()},
            "pairs_fit": len(fit),
            "pairs_test": len(test),
            "landmark_error_raw_box": float(np.mean(raw_err)),
            "landmark_error_adapted_box": float(np.mean(adapted_err)),
            "landmark_error_adapted_p95": float(np.percentile(adapted_err, 95)),
            "seconds": round(seconds, 2),
        }
        print(name, out["detectors"][name], flush=True)
    out["identity"] = BoxAffine().as_dict()
    target = REPO / "bench" / "results" / "box_adapters.json"
    target.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
