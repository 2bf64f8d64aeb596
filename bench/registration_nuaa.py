"""The ID-photo registration operating point: printed portrait vs live capture, on nuaa_dev.

NUAA Imposter's printed photos of a subject, held up to a webcam, stand in for the portrait on a
photographed identity document; its live webcam frames of the same subjects stand in for the
selfie. Every print image goes through the registration's own portrait finder
(:func:`facegate.apps.documents.find_portrait`, enlarging until a face is found); every live
image through the engine. Genuine pairs: a print and a live image of the same subject;
impostor pairs: a print of one subject and a live image of another.

Split by person: the threshold is chosen on the calibration subjects' impostor pairs (the
lowest threshold whose FMR is at most ``--target-fmr``), then FNMR and FMR are reported on the
other subjects only. Run:

    nice -n 10 .venv/bin/python bench/registration_nuaa.py                 # dlib, report only
    nice -n 10 .venv/bin/python bench/registration_nuaa.py --write         # and store the point
    nice -n 10 .venv/bin/python bench/registration_nuaa.py --pack mobilefacenet --home DATA_DIR

Embeddings are cached in ``bench/.cache/`` (a rerun is seconds); results go to
``bench/results/registration_nuaa_<pack>.json``; ``--write`` stores the operating point in
``src/facegate/apps/registration_points.json``. Frames of one (subject, session) group are
near-duplicates, so counts of pairs overstate the independent evidence: 8 people in all.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

from facegate.apps.documents import find_portrait
from facegate.config import EngineConfig
from facegate.imageio import decode
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]
POINTS = REPO / "src" / "facegate" / "apps" / "registration_points.json"
CALIBRATE = ("0001", "0003", "0010", "0012")


def embed_all(engine: FaceEngine, data: Path, cache: Path) -> dict[str, np.ndarray | None]:
    found: dict[str, np.ndarray | None] = {}
    if cache.exists():
        stored = json.loads(cache.read_text())
        found = {k: (np.array(v, np.float32) if v is not None else None) for k, v in stored.items()}
    rows = list(csv.DictReader((data / "labels.csv").open()))
    for n, row in enumerate(rows):
        if row["path"] in found:
            continue
        pixels = decode(data / row["path"])
        if row["label"] == "print":
            portrait = find_portrait(engine, pixels)
            face = portrait.face if portrait else None
        else:
            faces = [f for f in engine.analyze(pixels).faces if f.embedding is not None]
            face = max(faces, key=lambda f: f.box.area) if faces else None
        vec = face.embedding.vector if face is not None and face.embedding is not None else None
        found[row["path"]] = vec
        if n % 50 == 0:
            cache.write_text(json.dumps({k: _plain(v) for k, v in found.items()}))
    cache.write_text(json.dumps({k: _plain(v) for k, v in found.items()}))
    return found


def _plain(v: np.ndarray | None) -> list[float] | None:
    return None if v is None else [float(x) for x in v]


def pair_scores(
    rows: list[dict[str, str]], vecs: dict[str, np.ndarray | None], subjects: set[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    prints = [r for r in rows if r["label"] == "print" and r["subject"] in subjects]
    lives = [r for r in rows if r["label"] == "live" and r["subject"] in subjects]
    misses = {
        "print": sum(vecs[r["path"]] is None for r in prints),
        "live": sum(vecs[r["path"]] is None for r in lives),
        "prints": len(prints),
        "lives": len(lives),
    }
    p = [(r["subject"], vecs[r["path"]]) for r in prints if vecs[r["path"]] is not None]
    q = [(r["subject"], vecs[r["path"]]) for r in lives if vecs[r["path"]] is not None]
    a = np.stack([v for _, v in p])
    b = np.stack([v for _, v in q])
    sims = a @ b.T
    same = np.array([s for s, _ in p])[:, None] == np.array([s for s, _ in q])[None, :]
    return sims[same], sims[~same], misses


def threshold_at(impostors: np.ndarray, target: float) -> float:
    """The lowest threshold t with mean(impostors >= t) <= target."""
    ordered = np.sort(impostors)[::-1]
    allowed = int(np.floor(target * len(ordered)))
    return float(np.nextafter(ordered[allowed], np.float32(2.0))) if allowed < len(ordered) else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "nuaa_dev")
    ap.add_argument("--pack", default="dlib")
    ap.add_argument("--home", type=Path, default=None, help="data dir with the pack installed")
    ap.add_argument("--target-fmr", type=float, default=1e-3)
    ap.add_argument("--write", action="store_true", help="store the operating point")
    args = ap.parse_args()
    home = args.home or Path(os.environ.get("FACEGATE_HOME", "facegate-data"))
    engine = FaceEngine(EngineConfig(pack=args.pack), home=home)
    cache = REPO / "bench" / ".cache" / f"registration_nuaa_{args.pack}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    vecs = embed_all(engine, args.data, cache)
    rows = list(csv.DictReader((args.data / "labels.csv").open()))
    everyone = {r["subject"] for r in rows}
    cal = set(CALIBRATE)
    test = everyone - cal
    g_cal, i_cal, m_cal = pair_scores(rows, vecs, cal)
    g, i, m = pair_scores(rows, vecs, test)
    t = threshold_at(i_cal, args.target_fmr)
    one_to_one = engine.calibration.threshold_for_fmr(args.target_fmr)
    result = {
        "pack": args.pack,
        "target_fmr": args.target_fmr,
        "threshold": round(t, 6),
        "pack_1to1_threshold_at_target": round(one_to_one, 6),
        "calibration_subjects": sorted(cal),
        "report_subjects": sorted(test),
        "calibration": {
            "genuine_pairs": int(len(g_cal)),
            "impostor_pairs": int(len(i_cal)),
            "fnmr": float(np.mean(g_cal < t)),
            "fmr": float(np.mean(i_cal >= t)),
            "not_found": m_cal,
        },
        "report": {
            "genuine_pairs": int(len(g)),
            "impostor_pairs": int(len(i)),
            "fnmr": float(np.mean(g < t)),
            "fmr": float(np.mean(i >= t)),
            "fnmr_at_pack_1to1_threshold": float(np.mean(g < one_to_one)),
            "fmr_at_pack_1to1_threshold": float(np.mean(i >= one_to_one)),
            "genuine_median": float(np.median(g)),
            "impostor_max": float(np.max(i)),
            "not_found": m,
        },
    }
    out = REPO / "bench" / "results" / f"registration_nuaa_{args.pack}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))  # noqa: T201
    if args.write:
        points = json.loads(POINTS.read_text()) if POINTS.exists() else {}
        points[args.pack] = {
            "name": f"print-live:fmr={args.target_fmr:g}",
            "threshold": round(t, 6),
            "source": f"nuaa_dev print vs live, subjects {','.join(sorted(cal))}; "
            "bench/registration_nuaa.py",
        }
        POINTS.write_text(json.dumps(points, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
