"""Search at sizes whose vectors fit in memory only once (10M templates: 5.1 GB of float32).

Called by ``bench/search.py`` for sizes above ``--stream-above``. The gallery vectors are the
same kind as at the smaller sizes (real dlib embeddings, then draws from a Gaussian fitted to
them), generated once in chunks into a raw float32 file under ``bench/.cache/large/`` and read
back into one array; exact search's top-1 for every probe is computed once with ``faiss.knn``
over that array and cached beside it, so a rerun only times the indexes. Indexes, one at a
time so that at most one extra structure is in memory beside the vectors:

- exact scan: ``faiss.knn`` over the array (what ``IndexFlatIP`` does), on a few probes only;
- projected (facegate's exact ``large_index``), built over the array without copying it;
- IVF with 8-bit scalar-quantised codes, L2 on the unit vectors (the same order as inner
  product, but k-means cells that fit the metric), then an exact re-rank of the best
  ``--rerank`` candidates on the float vectors (what FAISS's ``IndexRefineFlat`` does; here
  on the one shared array). The trained index is cached with ``faiss.write_index``.

HNSW is not built at these sizes: at 1M it took 13 minutes of both cores here (BENCHMARKS.md),
so 10M would take hours, beyond the 30-minute build target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from facegate.store.projected import ProjectedFlatIndex

DIM = 128
CHUNK = 1_000_000


class Synthesizer(Protocol):
    def draw(self, n: int) -> np.ndarray: ...

    def mates(self, anchors: np.ndarray, similarity: float) -> np.ndarray: ...


def rss_gb() -> float:
    """Resident memory of this process (GB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1e6, 2)
    return float("nan")


def vector_file(n: int, real: np.ndarray, synth: Synthesizer, cache: Path) -> np.ndarray:
    """The ``n`` gallery vectors, generated into ``cache`` once, read into one array."""
    path = cache / f"vectors_{n}.f32"
    if not path.exists() or path.stat().st_size != n * DIM * 4:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            take = min(n, len(real))
            out.write(np.ascontiguousarray(real[:take], dtype=np.float32).tobytes())
            left = n - take
            while left > 0:
                part = synth.draw(min(CHUNK, left))
                out.write(part.tobytes())
                left -= len(part)
        tmp.rename(path)
    vectors = np.empty((n, DIM), dtype=np.float32)
    with path.open("rb") as src:
        src.readinto(memoryview(vectors).cast("B"))
    return vectors


def exact_top1(vectors: np.ndarray, probes: dict[str, np.ndarray], cache: Path) -> dict[str, Any]:
    """Exact search's top row per probe (cached: ``faiss.knn`` over 10M takes minutes)."""
    digest = hashlib.sha256(b"".join(p.tobytes() for p in probes.values())).hexdigest()[:12]
    path = cache / f"exact_{len(vectors)}_{len(probes['mates'])}_{digest}.npz"
    if path.exists():
        found = np.load(path)
        return {k: found[k] for k in found.files}
    out: dict[str, Any] = {}
    for kind, p in probes.items():
        scores, rows = faiss.knn(p, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
        out[kind], out[f"{kind}_score"] = rows[:, 0], scores[:, 0]
    np.savez(path, **out)
    return out


def latency(ms: np.ndarray, cpu_ms: np.ndarray | None = None) -> dict[str, float]:
    """Wall-clock percentiles and, with ``cpu_ms``, the searching thread's CPU time: on a
    machine shared with other work the wall time includes waiting for a core."""
    out = {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }
    if cpu_ms is not None:
        out["cpu_p50_ms"] = round(float(np.percentile(cpu_ms, 50)), 3)
        out["cpu_p99_ms"] = round(float(np.percentile(cpu_ms, 99)), 3)
    return out


class Clock:
    """Wall and thread-CPU milliseconds of each timed call."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall.append((time.perf_counter() - self._wall) * 1000.0)
        self.cpu.append((time.thread_time() - self._cpu) * 1000.0)

    def summary(self) -> dict[str, float]:
        return latency(np.array(self.wall), np.array(self.cpu))


def time_exact_scan(vectors: np.ndarray, probes: np.ndarray) -> dict[str, Any]:
    clock = Clock()
    for probe in probes:
        with clock:
            faiss.knn(probe[None, :], vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
    return {"probes": len(probes), **clock.summary()}


def recall(rows: list[int], exact: np.ndarray) -> float:
    return round(float(np.mean(np.array(rows) == exact)), 4)


def bench_projected(
    vectors: np.ndarray, probes: dict[str, np.ndarray], exact: dict[str, Any], rank: int
) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    index = ProjectedFlatIndex.over(vectors, rank, "fp16")
    out: dict[str, Any] = {
        "rank": rank,
        "codec": "fp16",
        "build_s": round(time.perf_counter() - start, 1),
        "build_cpu_s": round(time.process_time() - cpu, 1),
        "bytes_per_template": round((index.memory_bytes() + 9 * len(vectors)) / len(vectors), 1),
        "rss_gb_after_build": rss_gb(),
    }
    for kind, p in probes.items():
        rows, clock = [], Clock()
        for probe in p:
            with clock:
                _, found = index.search(probe[None, :], 1)
            rows.append(int(found[0, 0]))
        out[f"{kind}_recall_at_1"] = recall(rows, exact[kind])
        out[kind] = clock.summary()
    return out


def ivf_index(
    vectors: np.ndarray, spec: str, cache: Path, train_size: int
) -> tuple[faiss.Index, dict[str, float]]:
    """``spec`` (a FAISS factory string, L2), trained and filled once, then read from cache."""
    path = cache / f"{spec.replace(',', '_')}_{len(vectors)}.faiss"
    if path.exists():
        built = json.loads(path.with_suffix(".json").read_text())
        return faiss.read_index(str(path)), built
    start, cpu = time.perf_counter(), time.process_time()
    index = faiss.index_factory(DIM, spec, faiss.METRIC_L2)
    step = max(1, len(vectors) // train_size)
    index.train(np.ascontiguousarray(vectors[::step][:train_size]))
    for i in range(0, len(vectors), CHUNK):
        index.add(vectors[i : i + CHUNK])
    built = {"build_s": time.perf_counter() - start, "build_cpu_s": time.process_time() - cpu}
    faiss.write_index(index, str(path))
    path.with_suffix(".json").write_text(json.dumps(built))
    return index, built


def ivf_search(
    index: faiss.Index, vectors: np.ndarray, probe: np.ndarray, rerank: int
) -> tuple[int, float]:
    """Top row: the best ``rerank`` candidates of the codes, re-scored on the float vectors."""
    _, found = index.search(probe[None, :], rerank)
    candidates = found[0][found[0] >= 0]
    if len(candidates) == 0:
        return -1, float("-inf")
    scores = vectors[candidates] @ probe
    best = int(np.argmax(scores))
    return int(candidates[best]), float(scores[best])


def bench_ivf(
    vectors: np.ndarray,
    probes: dict[str, np.ndarray],
    exact: dict[str, Any],
    args: argparse.Namespace,
    spec: str,
) -> dict[str, Any]:
    index, built = ivf_index(vectors, spec, args.large_cache, args.train_size)
    faiss.omp_set_num_threads(1)  # searches: one thread, as identify
    print(f"  {spec} built: {built}", flush=True)
    codes = faiss.extract_index_ivf(index)
    invlists = codes.invlists
    code_bytes = sum(invlists.list_size(i) for i in range(codes.nlist)) * (codes.code_size + 8)
    out: dict[str, Any] = {
        "spec": spec,
        "metric": "L2 on unit vectors",
        "rerank": args.rerank,
        "build_s": round(built["build_s"], 1),
        "build_cpu_s": round(built["build_cpu_s"], 1),
        "bytes_per_template": round((code_bytes + vectors.nbytes) / len(vectors), 1),
        "code_bytes_per_template": round(code_bytes / len(vectors), 1),
        "rss_gb_after_build": rss_gb(),
    }
    for nprobe in args.nprobe:
        codes.nprobe = nprobe
        entry: dict[str, Any] = {}
        for kind, p in probes.items():
            rows, clock = [], Clock()
            for probe in p:
                with clock:
                    row, _ = ivf_search(index, vectors, probe, args.rerank)
                rows.append(row)
            entry[kind] = {**clock.summary(), "recall_at_1": recall(rows, exact[kind])}
        out[f"nprobe{nprobe}"] = entry
        print(f"  {spec} nprobe={nprobe}: {entry}", flush=True)
    return out


def bench_large(
    n: int, real: np.ndarray, synth: Synthesizer, args: argparse.Namespace
) -> dict[str, Any]:
    """Exact scan, projected and IVF at ``n`` templates (one search thread, as identify)."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    vectors = vector_file(n, real, synth, args.large_cache)
    rng = np.random.default_rng(n + 1)
    anchors = rng.choice(n, size=args.queries, replace=False)
    probes = {
        "mates": synth.mates(vectors[anchors], args.mate_similarity),
        "strangers": synth.draw(args.queries),
    }
    exact = exact_top1(vectors, probes, args.large_cache)
    out: dict[str, Any] = {
        "templates": n,
        "vectors_ready_s": round(time.perf_counter() - start, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "mates_top1_is_anchor": float(np.mean(exact["mates"] == anchors)),
    }
    print(f"n={n} vectors and exact top-1 ready: {out}", flush=True)
    for spec in args.ivf:  # first: the approximate indexes are what the targets ask for
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds use every core
        entry = bench_ivf(vectors, probes, exact, args, spec)
        out.setdefault("ivf", []).append(entry)
    faiss.omp_set_num_threads(1)
    few = {kind: p[: args.projected_probes] for kind, p in probes.items()}
    few_exact = {kind: exact[kind][: args.projected_probes] for kind in probes}
    out["projected"] = bench_projected(vectors, few, few_exact, args.rank)
    out["projected"]["probes_per_kind"] = args.projected_probes
    print(f"n={n} projected: {out['projected']}", flush=True)
    out["exact_scan"] = time_exact_scan(vectors, probes["mates"][: args.exact_probes])
    print(f"n={n} exact scan: {out['exact_scan']}", flush=True)
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stream-above", type=int, default=2_000_000, help="sizes above this: search_large.py"
    )
    parser.add_argument("--large-cache", type=Path, default=Path("bench/.cache/large"))
    parser.add_argument("--ivf", nargs="*", default=["IVF4096,SQ8"], help="FAISS factory specs")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--rerank", type=int, default=64, help="IVF candidates re-scored")
    parser.add_argument("--train-size", type=int, default=200_000)
    parser.add_argument("--exact-probes", type=int, default=30, help="exact scans timed")
    parser.add_argument(
        "--projected-probes", type=int, default=100, help="projected searches timed, per kind"
    )
