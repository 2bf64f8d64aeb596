"""Milvus (embedded Milvus Lite) through facegate's MilvusIndex: load, search, recall, memory.

The same gallery vectors and probes as ``bench/search.py`` (real dlib embeddings, then draws
from a Gaussian fitted to them; mates at cosine ``--mate-similarity``, fresh strangers), loaded
into one purpose of a Milvus Lite collection through :class:`facegate.store.milvus.MilvusIndex`
(upserts of 2,000 entities), then searched one probe at a time as ``identify`` does (purpose
filter, grouped by subject). Recall@1 is against exact search (FAISS ``IndexFlatIP``).
Resident memory and CPU time are this process's, which holds Milvus Lite (it runs in process,
its gRPC server on threads). Run:

    .venv/bin/python bench/search_milvus.py --sizes 100000 1000000 --index FLAT HNSW
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facegate.store.milvus import MilvusIndex, MilvusParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import REPO, Synth, gallery_vectors, real_vectors  # noqa: E402
from search_large import latency, rss_gb  # noqa: E402

BATCH = 20_000
INDEX_PARAMS: dict[str, dict[str, Any]] = {
    "FLAT": {},
    "HNSW": {"M": 32, "efConstruction": 80},
    "IVF_FLAT": {"nlist": 1024},
    "IVF_SQ8": {"nlist": 1024},
}
SEARCH_PARAMS: dict[str, dict[str, Any]] = {
    "FLAT": {},
    "HNSW": {"ef": 256},
    "IVF_FLAT": {"nprobe": 64},
    "IVF_SQ8": {"nprobe": 64},
}


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_one(
    n: int, kind: str, vectors: np.ndarray, probes: dict[str, np.ndarray], exact: dict[str, Any]
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="facegate-milvus-bench-"))
    params = MilvusParams(
        str(tmp / "milvus.db"),
        index_type=kind,
        index_params=tuple(INDEX_PARAMS[kind].items()),
        search_params=tuple(SEARCH_PARAMS[kind].items()),
    )
    index = MilvusIndex(params, lambda: "bench-v1")
    rss_before = rss_gb()
    rows = np.arange(n, dtype=np.int64)
    start, cpu = time.perf_counter(), time.process_time()
    index.load("bench", ((rows[i : i + BATCH], vectors[i : i + BATCH]) for i in range(0, n, BATCH)))
    load_s, load_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    out: dict[str, Any] = {
        "templates": n,
        "index": kind,
        "index_params": INDEX_PARAMS[kind],
        "search_params": SEARCH_PARAMS[kind],
        "load_s": round(load_s, 1),
        "load_cpu_s": round(load_cpu_s, 1),
        "inserts_per_s": round(n / load_s, 1),
        "rss_gb_added": round(rss_gb() - rss_before, 2),
        "disk_bytes_per_template": round(disk_bytes(tmp) / n, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    for probe_kind, p in probes.items():
        top1, times, cpu_times = [], [], []
        for i, probe in enumerate(p):
            t0, c0 = time.perf_counter(), time.process_time()
            hits = index.search("bench", probe[None, :], 1)[0]
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)  # Milvus Lite runs in this process
            top1.append(hits[0].row if hits else -1)
            if i == 0:
                times.clear()  # the first search loads the segments
                cpu_times.clear()
        got = np.array(top1[1:]) if len(top1) > 1 else np.array(top1)
        want = exact[probe_kind][1:] if len(top1) > 1 else exact[probe_kind]
        out[probe_kind] = {
            **latency(np.array(times) * 1000.0, np.array(cpu_times) * 1000.0),
            "recall_at_1": round(float(np.mean(got == want)), 4),
        }
    out["rss_gb_after_search"] = rss_gb()
    index.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"milvus-lite n={n} {kind}: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--index", nargs="+", default=["FLAT", "HNSW"], choices=INDEX_PARAMS)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--mate-similarity", type=float, default=0.95)
    parser.add_argument("--cache", type=Path, default=REPO / "bench/.cache/search_real.npz")
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared/data/lfw")
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/search_milvus.json")
    args = parser.parse_args()
    import milvus_lite
    import pymilvus

    real = real_vectors(args.cache, args.lfw, args.people)
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "pymilvus": pymilvus.__version__,
        "milvus_lite": milvus_lite.__version__,
        "cpus": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": [],
    }
    for n in args.sizes:
        synth = Synth(real, seed=n)
        vectors = gallery_vectors(real, synth, n)
        rng = np.random.default_rng(n + 1)
        anchors = rng.choice(n, size=args.queries, replace=False)
        probes = {
            "mates": synth.mates(vectors[anchors], args.mate_similarity),
            "strangers": synth.draw(args.queries),
        }
        exact = {
            k: faiss.knn(p, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)[1][:, 0]
            for k, p in probes.items()
        }
        for kind in args.index:
            result["runs"].append(bench_one(n, kind, vectors, probes, exact))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")  # each run, as it ends
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
