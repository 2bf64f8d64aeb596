"""Is the converter's PReLU lowering what makes MobileFaceNet slow? ONNX Runtime's profiler says.

TFLite writes MobileFaceNet's PReLU as ``relu(x) + k * (x - |x|)``, and facegate's converter
lowers those five operators one to one. This script builds a second ONNX file in which each such
group is one ``PRelu(x, 2k)`` (bit for bit the same outputs, checked here), then for both files:
ONNX Runtime's own profiler (share of kernel time per operator type) and the embedding time per
face (best of ``--rounds`` runs of a batch, the two files run alternately so that load on a
shared machine hits both alike), at one intra-op thread and at facegate's default (one per CPU).
Writes bench/results/prelu_lowering.json. Run:

    nice -n 10 .venv/bin/python bench/prelu_lowering.py --home DATA_DIR
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[1]
MODEL = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b-nchw.onnx"


def fuse_prelu(model: onnx.ModelProto) -> int:
    """Replace each ``Add(Relu(x), Mul(k, Sub(x, Abs(x))))`` by ``PRelu(x, 2k)`` in place."""
    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    drop: set[str] = set()
    fused: dict[str, onnx.NodeProto] = {}
    for add in graph.node:
        if add.op_type != "Add":
            continue
        relu, mul = (producer.get(name) for name in add.input)
        if relu is None or mul is None or relu.op_type != "Relu" or mul.op_type != "Mul":
            continue
        x = relu.input[0]
        k, sub_out = mul.input if mul.input[0] in consts else reversed(mul.input)
        sub = producer.get(sub_out)
        if k not in consts or sub is None or sub.op_type != "Sub" or sub.input[0] != x:
            continue
        ab = producer.get(sub.input[1])
        if ab is None or ab.op_type != "Abs" or ab.input[0] != x:
            continue
        slope = k + "_slope"
        graph.initializer.append(numpy_helper.from_array(2 * consts[k], slope))
        drop.update(n.output[0] for n in (relu, mul, sub, ab))
        fused[add.output[0]] = onnx.helper.make_node("PRelu", [x, slope], [add.output[0]])
    nodes = [fused.get(n.output[0], n) for n in graph.node if n.output[0] not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(fused)


def session(path: Path, threads: int, profile: str | None = None) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if profile is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def op_shares(path: Path, x: np.ndarray, folder: Path) -> dict[str, float]:
    """Percent of kernel time per operator type over 5 profiled runs (after 2 warm-ups)."""
    s = session(path, 1, str(folder / path.stem))
    for _ in range(7):
        s.run(None, {"input": x})
    events = json.loads(Path(s.end_profiling()).read_text())
    total: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            total[e["args"]["op_name"]] += e["dur"]
    whole = sum(total.values())
    return {op: round(100 * us / whole, 1) for op, us in total.most_common()}


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="data dir with mobilefacenet")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    original = args.home / "models" / MODEL
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 3, 112, 112)).astype(np.float32)
    result: dict[str, Any] = {"uptime_before": load_average(), "batch": args.batch}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = onnx.load(original)
        result["prelu_groups_fused"] = fuse_prelu(model)
        fused = folder / "fused.onnx"
        onnx.save(model, fused)
        a = session(original, 1).run(None, {"input": x})[0]
        b = session(fused, 1).run(None, {"input": x})[0]
        result["max_abs_difference"] = float(np.abs(a - b).max())
        result["op_share_percent"] = {
            "five_ops": op_shares(original, x, folder),
            "prelu": op_shares(fused, x, folder),
        }
        for threads in (1, os.cpu_count() or 1):
            runs = {"five_ops": session(original, threads), "prelu": session(fused, threads)}
            best = dict.fromkeys(runs, float("inf"))
            for _ in range(args.rounds):
                for name, s in runs.items():
                    start = time.perf_counter()
                    s.run(None, {"input": x})
                    best[name] = min(best[name], time.perf_counter() - start)
            result[f"ms_per_face_{threads}_threads"] = {
                k: round(1000 * v / args.batch, 2) for k, v in best.items()
            }
    result["uptime_after"] = load_average()
    result["command"] = ".venv/bin/python " + " ".join(sys.argv)
    out = REPO / "bench" / "results" / "prelu_lowering.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
