"""ONNX Runtime session options for the dlib embedder at batch 1 (one face at a time).

Each variant gets its own session on the converted embedder; the chips are dlib chips of
the faces HOG finds in every 97th ``*_0001.jpg`` of LFW (the photos of
``bench/e2e_detectors.py``). The variants take turns, round-robin, ``--rounds`` times, so
they see the same load; the best round's wall and process CPU time per face is kept.

    nice -n 10 .venv/bin/python bench/embedder_options.py --home DATA_DIR [--images 20]

Writes bench/results/embedder_options.json (with the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

# name -> (intra-op threads, graph optimisation, spinning, memory arena)
VARIANTS: dict[str, tuple[int, str, bool, bool]] = {
    "2 threads, all optimisations, spinning, arena (shipped before)": (2, "all", True, True),
    "2 threads, no spinning": (2, "all", False, True),
    "1 thread, spinning": (1, "all", True, True),
    "1 thread, no spinning": (1, "all", False, True),
    "1 thread, no spinning, no arena": (1, "all", False, False),
    "1 thread, basic optimisations": (1, "basic", False, True),
    "1 thread, extended optimisations": (1, "extended", False, True),
}


def session(path: Path, threads: int, level: str, spin: bool, arena: bool) -> Any:
    import onnxruntime as ort

    levels = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    opts = ort.SessionOptions()
    opts.graph_optimization_level = levels[level]
    opts.intra_op_num_threads = threads
    opts.enable_cpu_mem_arena = arena
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def main() -> None:
    from facegate.config import EngineConfig
    from facegate.imageio import decode
    from facegate.models.convert import EMBEDDER_FILE, convert, source_path
    from facegate.pipeline.align import face_chip
    from facegate.pipeline.engine import FaceEngine

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/embedder_options.json")
    args = ap.parse_args()
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    engine = FaceEngine(EngineConfig(), home=args.home)
    chips = []
    for path in lfw:
        pixels = decode(path)
        for face in engine.detect(pixels, quality=False).faces:
            if face.landmarks is not None:
                chips.append(face_chip(pixels, face.landmarks)[None])
    embedder = engine.load()._backends()[2]
    model = convert(source_path(EMBEDDER_FILE), embedder.cache_dir)  # type: ignore[attr-defined]
    out: dict[str, Any] = {"faces": len(chips), "load_before": os.getloadavg()}
    sessions = {name: session(model, *v) for name, v in VARIANTS.items()}
    reference = {}
    for name, sess in sessions.items():  # warm-up, and the outputs must not change
        reference[name] = np.concatenate([sess.run(["embedding"], {"chips": c})[0] for c in chips])
    first = next(iter(reference.values()))
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in sessions}
    for _ in range(args.rounds):
        for name, sess in sessions.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for chip in chips:
                sess.run(["embedding"], {"chips": chip})
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[name][0] = min(best[name][0], 1000 * wall / len(chips))
            best[name][1] = min(best[name][1], 1000 * cpu / len(chips))
    for name, (wall, cpu) in best.items():
        diff = float(np.abs(reference[name] - first).max())
        out[name] = {"wall_ms_per_face": wall, "cpu_ms_per_face": cpu, "max_abs_diff": diff}
        print(f"{name}: wall {wall:.2f} ms, CPU {cpu:.2f} ms, max |diff| {diff:.2e}", flush=True)
    out["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
