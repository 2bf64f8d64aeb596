"""Gallery search benchmark: latency, recall@1 against exact search, memory, enrolment.

Gallery vectors are real dlib embeddings of different LFW people (from ``bench/calibrate.py``'s
cache, or embedded here) followed by synthetic ones drawn from a Gaussian fitted to the real
ones (mean and full covariance, then L2-normalised), so impostor scores look like real ones.
Probes: "mates" are gallery vectors moved to the cosine similarity that a second photo of the
same person typically has (``--mate-similarity``); "strangers" are fresh draws.

For each size the script builds the indexes the gallery can use (:class:`PurposeIndex`): exact
(``IndexFlatIP``), projected (exact, through a scan of small codes and a certified re-rank;
:mod:`facegate.store.projected`) and HNSW, searches one probe at a time (as ``identify`` does
per face) with each of ``--threads`` FAISS thread counts, and reports p50/p99 latency, recall@1
(top-1 == exact search's top-1) and bytes per template (everything the index keeps). It also
measures enrolment throughput and identify overhead through :class:`Gallery` with a stand-in
engine (store, encryption, index: everything but face analysis). Writes JSON to ``--out``. Run:

    .venv/bin/python bench/search.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facegate.gallery.service import Gallery
from facegate.imageio import ImageSource
from facegate.pipeline.calibration import Calibration, load_pack_calibration
from facegate.store.index import IndexParams, PurposeIndex
from facegate.types import BBox, DetectResult, Embedding, Face

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_large  # noqa: E402  (sizes that fit in memory only once)

REPO = Path(__file__).resolve().parents[1]
DIM = 128


def real_vectors(
    cache: Path, lfw: Path, people: int, pack: str = "dlib", home: Path | None = None
) -> np.ndarray:
    if cache.exists():
        vectors: np.ndarray = np.load(cache)["vectors"].astype(np.float32)
        found: np.ndarray = vectors[np.isfinite(vectors).all(axis=1)]  # NaN: no face found
        return found
    from facegate.config import EngineConfig
    from facegate.pipeline.engine import FaceEngine

    engine = FaceEngine(EngineConfig(pack=pack), home=home)
    out = []
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir())[:people]:
        faces = engine.analyze(min(folder.glob("*.jpg"))).faces
        if faces and faces[0].embedding is not None:
            out.append(faces[0].embedding.vector)
    vectors = np.stack(out)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors)  # a rerun (and bench/search_large.py) starts from here
    return vectors


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


class Synth:
    """Draws vectors from a Gaussian fitted to real embeddings."""

    def __init__(self, real: np.ndarray, seed: int = 0) -> None:
        self.mean = real.mean(axis=0)
        self.chol = np.linalg.cholesky(np.cov(real, rowvar=False) + 1e-6 * np.eye(DIM))
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, DIM)).astype(np.float32)
        return unit(self.mean + z @ self.chol.T)

    def mates(self, anchors: np.ndarray, similarity: float) -> np.ndarray:
        """Vectors at about ``similarity`` cosine from each anchor, moved along the data."""
        noise = unit(self.draw(len(anchors)) - self.mean)
        noise -= (noise * anchors).sum(axis=1, keepdims=True) * anchors
        noise = unit(noise)
        return unit(similarity * anchors + np.sqrt(1 - similarity**2) * noise)


def gallery_vectors(real: np.ndarray, synth: Synth, n: int) -> np.ndarray:
    take = min(n, len(real))
    return np.concatenate([real[:take], synth.draw(n - take)]) if n > take else real[:n].copy()


def timed_searches(
    index: PurposeIndex, probes: np.ndarray, threads: int
) -> tuple[list[int], np.ndarray]:
    """One probe at a time, as identify searches, with ``threads`` FAISS threads (0: all)."""
    default = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or default)
    top1, times = [], []
    try:
        for probe in probes:
            start = time.perf_counter()
            hits = index.search(probe[None, :], 1)[0]
            times.append(time.perf_counter() - start)
            top1.append(hits[0].row if hits else -1)
    finally:
        faiss.omp_set_num_threads(default)
    return top1, np.array(times) * 1000.0


def latency(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def build(vectors: np.ndarray, params: IndexParams) -> tuple[PurposeIndex, float]:
    index = PurposeIndex(DIM, params)
    start = time.perf_counter()
    index.add(np.arange(len(vectors), dtype=np.int64), vectors)
    return index, time.perf_counter() - start


def thread_latencies(
    index: PurposeIndex, probes: dict[str, np.ndarray], threads: list[int]
) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Top-1 rows (first thread count) and latencies: ``mates`` for the first thread count,
    ``mates_threads2`` for the others."""
    top1: dict[str, list[int]] = {}
    out: dict[str, Any] = {}
    for i, t in enumerate(threads):
        for kind, p in probes.items():
            rows, ms = timed_searches(index, p, t)
            top1.setdefault(kind, rows)
            out[kind if i == 0 else f"{kind}_threads{t}"] = latency(ms)
    return top1, out


def bench_projected(
    vectors: np.ndarray,
    probes: dict[str, np.ndarray],
    exact: dict[str, list[int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    params = IndexParams(
        0, large_index="projected", projected_rank=args.rank, projected_codec=args.codec
    )
    index, seconds = build(vectors, params)
    top1, lat = thread_latencies(index, probes, args.threads)
    recall = {
        f"{kind}_recall_at_1": round(float(np.mean(np.array(rows) == np.array(exact[kind]))), 4)
        for kind, rows in top1.items()
    }
    return {
        "rank": args.rank,
        "codec": args.codec,
        "build_s": round(seconds, 1),
        "bytes_per_template": round(index.memory_bytes() / len(vectors), 1),
        **recall,
        **lat,
    }


def bench_size(n: int, real: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    synth = Synth(real, seed=n)
    vectors = gallery_vectors(real, synth, n)
    rng = np.random.default_rng(n + 1)
    anchors = rng.choice(n, size=args.queries, replace=False)
    probes = {
        "mates": synth.mates(vectors[anchors], args.mate_similarity),
        "strangers": synth.draw(args.queries),
    }
    out: dict[str, Any] = {"templates": n}
    flat, flat_build = build(vectors, IndexParams(hnsw_min_size=n + 1))
    exact, lat = thread_latencies(flat, probes, args.threads)
    out["exact"] = {
        "build_s": round(flat_build, 2),
        "bytes_per_template": round(flat.memory_bytes() / n, 1),
        "mates_top1_is_anchor": float(np.mean(np.array(exact["mates"]) == anchors)),
        **lat,
    }
    print(f"n={n} exact: {out['exact']}", flush=True)
    del flat
    out["projected"] = bench_projected(vectors, probes, exact, args)
    print(f"n={n} projected: {out['projected']}", flush=True)
    if n > args.max_hnsw:
        return out
    params = IndexParams(0, args.hnsw_m, args.ef_search[0], args.ef_construction)
    hnsw, hnsw_build = build(vectors, params)
    out["hnsw"] = {
        "M": args.hnsw_m,
        "ef_construction": args.ef_construction,
        "build_s": round(hnsw_build, 1),
        "bytes_per_template": round(hnsw.memory_bytes() / n, 1),
    }
    for ef in args.ef_search:
        hnsw.ef_search = ef
        for kind, p in probes.items():
            top1, ms = timed_searches(hnsw, p, args.threads[0])
            recall = float(np.mean(np.array(top1) == np.array(exact[kind])))
            out["hnsw"][f"{kind}_ef{ef}"] = {**latency(ms), "recall_at_1": round(recall, 4)}
    print(f"n={n} hnsw: {out['hnsw']}", flush=True)
    return out


class VectorEngine:
    """Stand-in engine: an image is a 4x4 array whose first pixels hold a vector index."""

    def __init__(self, vectors: np.ndarray, calibration: Calibration) -> None:
        self.vectors = vectors
        self._calibration = calibration

    @property
    def pack_id(self) -> str:
        return "bench-v1"

    @property
    def calibration(self) -> Calibration:
        return self._calibration

    def analyze(self, image: ImageSource) -> DetectResult:
        px = np.asarray(image)
        i = int(px[0, 0, 0]) | int(px[0, 0, 1]) << 8 | int(px[0, 0, 2]) << 16
        face = Face(BBox(0, 0, 200, 200), 1.0, embedding=Embedding(self.vectors[i], "bench-v1"))
        return DetectResult(200, 200, [face])


def image_for(i: int) -> np.ndarray:
    px = np.zeros((16, 16, 3), dtype=np.uint8)
    px[0, 0] = (i & 255, (i >> 8) & 255, (i >> 16) & 255)
    return px


def bench_gallery(real: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Enrolment throughput and identify overhead through the Gallery (no face analysis)."""
    synth = Synth(real, seed=7)
    n = args.enroll_subjects
    vectors = gallery_vectors(real, synth, n + args.queries)
    engine = VectorEngine(vectors, load_pack_calibration(args.pack, args.home))
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        with Gallery.open(tmp, engine=engine, master_key=key) as gallery:
            gallery.add_purpose("bench")
            start = time.perf_counter()
            for i in range(n):
                subject = gallery.create_subject(f"s{i}")
                gallery.grant_consent(subject.id, "bench", "bench")
                gallery.enroll(subject.id, [image_for(i)], "bench")
            enrol_s = time.perf_counter() - start
            times = []
            for q in range(args.queries // 4):
                t0 = time.perf_counter()
                gallery.identify(image_for(n + q), "bench", top_k=5)
                times.append(time.perf_counter() - t0)
        db_bytes = sum(p.stat().st_size for p in Path(tmp).glob("gallery.db*"))
        start = time.perf_counter()
        with Gallery.open(tmp, engine=engine, master_key=key, preload=True) as reopened:
            rebuild_s = time.perf_counter() - start
            if reopened.index_stats()["bench"].templates != n:
                raise RuntimeError("the rebuilt index lost templates")
    return {
        "subjects": n,
        "enrol_subjects_per_s": round(n / enrol_s, 1),
        "enrol_ms_per_subject": round(1000 * enrol_s / n, 2),
        "identify_without_engine": latency(np.array(times) * 1000.0),
        "reopen_and_rebuild_s": round(rebuild_s, 3),
        "db_bytes_per_template": round(db_bytes / n, 1),
        "note": "create subject + grant consent + enrol 1 template, each its own transaction "
        "(SQLite WAL, synchronous=FULL); excludes face analysis",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--mate-similarity", type=float, default=0.95)
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--max-hnsw", type=int, default=1_000_000, help="skip HNSW above this")
    parser.add_argument("--rank", type=int, default=IndexParams().projected_rank)
    parser.add_argument("--codec", choices=["sq8", "fp16", "float"], default="fp16")
    parser.add_argument("--enroll-subjects", type=int, default=2000)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1],
        help="FAISS thread counts to search with (0: all); HNSW uses the first; builds use all",
    )
    parser.add_argument("--pack", default="dlib", help="model pack (installed under --home)")
    parser.add_argument("--home", type=Path, default=None, help="data dir of installed packs")
    parser.add_argument("--cache", type=Path, default=None, help="real vectors (.npz)")
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared/data/lfw")
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/search.json")
    search_large.add_arguments(parser)
    args = parser.parse_args()

    logging.getLogger("facegate").setLevel(logging.ERROR)  # synthetic near-duplicates warn
    suffix = "" if args.pack == "dlib" else f"_{args.pack}"
    cache = args.cache or REPO / f"bench/.cache/calibration{suffix}.npz"
    real = real_vectors(cache, args.lfw, args.people, args.pack, args.home)
    result: dict[str, Any] = {
        "pack": args.pack,
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "faiss_build_threads": faiss.omp_get_max_threads(),
            "faiss_search_threads": [t or faiss.omp_get_max_threads() for t in args.threads],
            "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "real_vectors": len(real),
        "sizes": [],
    }
    if args.enroll_subjects:
        result["gallery"] = bench_gallery(real, args)
        print(f"gallery: {result['gallery']}", flush=True)
    for n in args.sizes:
        if n > args.stream_above:
            result["sizes"].append(search_large.bench_large(n, real, Synth(real, seed=n), args))
        else:
            result["sizes"].append(bench_size(n, real, args))
    result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
