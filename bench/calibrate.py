"""Calibrate a pack's 1:1 operating points from real impostor scores.

Embeds one photo of each of up to ``--people`` different people in LFW (the face nearest the
image centre), scores every pair of different people (cosine similarity), and writes the
threshold for each false-match rate into the ``calibration`` of the pack's manifest,
``src/facegate/models/packs/<pack>.json`` (the rest of the manifest is kept). Run:

    .venv/bin/python bench/calibrate.py --lfw ../shared/data/lfw --people 3000
    .venv/bin/python bench/calibrate.py --pack mobilefacenet --home DATA_DIR   # installed there

See docs/CALIBRATION.md for the method and its limits.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from facegate.config import EngineConfig
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]
FMRS = [10 ** (-k / 4) for k in range(4, 4 * 7 + 1)]  # 1e-1 ... 1e-7 in quarter decades
MIN_TAIL = 20  # a threshold needs at least this many impostor scores above it


def first_images(lfw: Path, people: int) -> list[Path]:
    dirs = sorted(d for d in lfw.iterdir() if d.is_dir())
    picks = [min(d.glob("*.jpg")) for d in dirs if any(d.glob("*.jpg"))]
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(picks))[:people]
    return [picks[i] for i in sorted(idx)]


def embed_centre_face(engine: FaceEngine, path: Path) -> np.ndarray | None:
    result = engine.analyze(path)
    if not result.faces:
        return None
    cx, cy = result.width / 2, result.height / 2
    face = min(
        result.faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2
    )
    return None if face.embedding is None else face.embedding.vector


def embed_all(
    paths: list[Path], workers: int, cache: Path, pack: str, home: Path | None
) -> np.ndarray:
    if cache.exists():
        data = np.load(cache)
        if list(data["paths"]) == [str(p) for p in paths]:
            return np.asarray(data["vectors"])
    config = EngineConfig(pack=pack, detector="hog", upsample=1)
    engines = [FaceEngine(config, home=home) for _ in range(workers)]
    vecs: list[np.ndarray | None] = [None] * len(paths)
    t0 = time.time()

    def work(i: int) -> None:
        vecs[i] = embed_centre_face(engines[i % workers], paths[i])

    with ThreadPoolExecutor(workers) as pool:
        for n, _ in enumerate(pool.map(work, range(len(paths))), 1):
            if n % 250 == 0:
                print(f"{n}/{len(paths)} embedded, {time.time() - t0:.0f} s")
    dim = next(v for v in vecs if v is not None).shape[0]
    out = np.stack([v if v is not None else np.full(dim, np.nan, np.float32) for v in vecs])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, paths=np.array([str(p) for p in paths]), vectors=out)
    return out


def embed_all_cached(
    paths: list[Path],
    workers: int,
    cache_file: Path,
    pack: str,
    home: Path | None,
    only_cached: bool = False,
    detector: str = "hog",
    upsample: int = 1,
) -> tuple[list[Path], np.ndarray]:
    """The same vectors through facegate's eval cache (shared with bench/lfw_accuracy.py and
    ``facegate eval``: an LFW run of the pack leaves nothing to compute here)."""
    import functools

    from facegate.config import ImageLimits
    from facegate.eval.cache import EmbeddingCache, sha256_of
    from facegate.eval.extract import RECORD_VERSION, Extractor, Task, choose_face, engine_variant

    config = EngineConfig(pack=pack, detector=detector, upsample=upsample, runtime="onnx")
    engine = FaceEngine(config, home=home)
    variant = engine_variant(config)
    factory = functools.partial(FaceEngine, config, ImageLimits(), home=home)
    with EmbeddingCache(cache_file) as cache:
        if only_cached:  # people whose photo an earlier (partial) run already embedded
            key = f"analyze|{variant}|r{RECORD_VERSION}"
            paths = [p for p in paths if cache.get(engine.pack_id, key, sha256_of(p.read_bytes()))]
        extractor = Extractor(
            factory, pack_id=engine.pack_id, variant=variant, cache=cache, workers=workers
        )
        records = extractor.run(paths, Task("analyze"))
    print(f"{extractor.stats.cached} from cache, {extractor.stats.computed} computed")
    dim: int | None = None
    rows: list[np.ndarray | None] = []
    for path in paths:
        rec = records[path]
        k = None if rec.error or rec.embeddings.shape[1] == 0 else choose_face(rec, "centre")
        rows.append(None if k is None else np.asarray(rec.embeddings[k], np.float32))
    dim = dim or next(r for r in rows if r is not None).shape[0]
    vectors = np.stack([r if r is not None else np.full(dim, np.nan, np.float32) for r in rows])
    return paths, vectors


def impostor_scores(vectors: np.ndarray) -> np.ndarray:
    ok = vectors[~np.isnan(vectors).any(axis=1)]
    sims = ok @ ok.T
    iu = np.triu_indices(len(ok), k=1)
    return np.sort(sims[iu].astype(np.float64))


def fmr_table(scores: np.ndarray) -> list[tuple[float, float]]:
    """(fmr, threshold) rows: the fraction of impostor scores >= threshold equals fmr."""
    n = len(scores)
    rows = []
    for fmr in FMRS:
        tail = fmr * n
        if tail < MIN_TAIL:
            break
        k = n - int(math.ceil(tail))  # scores[k:] are the top ceil(fmr*n) scores
        rows.append((fmr, float(scores[k]) + 1e-6))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument("--people", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pack", default="dlib")
    ap.add_argument("--home", type=Path, default=None, help="data dir (where a pack is installed)")
    ap.add_argument(
        "--eval-cache",
        type=Path,
        default=None,
        help="embed through facegate's eval cache (ONNX runtime), e.g. DATA_DIR/eval-cache.sqlite",
    )
    ap.add_argument(
        "--only-cached",
        action="store_true",
        help="with --eval-cache: only the people whose photo is already in the cache",
    )
    ap.add_argument(
        "--detector", default="hog", help="with --eval-cache: the detector (and its alignment)"
    )
    ap.add_argument("--upsample", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "src/facegate/models/packs")
    args = ap.parse_args()

    paths = first_images(args.lfw, args.people)
    if args.eval_cache is not None:
        paths, vectors = embed_all_cached(
            paths,
            args.workers,
            args.eval_cache,
            args.pack,
            args.home,
            args.only_cached,
            args.detector,
            args.upsample,
        )
    else:
        cache = REPO / "bench" / ".cache" / f"calibration-{args.pack}.npz"
        vectors = embed_all(paths, args.workers, cache, args.pack, args.home)
    scores = impostor_scores(vectors)
    missed = int(np.isnan(vectors).any(axis=1).sum())
    table = fmr_table(scores)
    detector_label = "HOG upsample 1"
    if args.eval_cache is not None and (args.detector, args.upsample) != ("hog", 1):
        detector_label = f"{args.detector} upsample {args.upsample}"
        if args.detector == "mtcnn":
            detector_label += ", ArcFace alignment on MTCNN's five points"
    result = {
        "calibration": {
            "pack": args.pack,
            "fmr_table": [[round(f, 10), round(t, 6)] for f, t in table],
            "impostor_scores": int(len(scores)),
            "source": f"LFW deep-funneled, one image each of {len(paths) - missed} people "
            f"(no face found for {missed}), {detector_label}, face nearest the centre; "
            "bench/calibrate.py",
        },
        "impostor_stats": {
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "max": float(scores.max()),
        },
    }
    # Only the calibration keys of the pack's manifest change; everything else is kept.
    manifest_path = args.out / f"{args.pack}.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.update(result)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["calibration"]["fmr_table"]))
    print(f"{len(scores)} impostor scores; written {args.out / (args.pack + '.json')}")


if __name__ == "__main__":
    main()
