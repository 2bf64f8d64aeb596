"""Throughput: facegate (ONNX Runtime) vs dlib's runtime vs face_recognition, one machine, one run.

Needs face_recognition, which is never a facegate dependency: run it in the benchmark
environment (`make bench-env` creates .venv-bench with facegate and face_recognition):

    .venv-bench/bin/python bench/throughput.py

Measures, on the same images in the same process:
- embedding faces/s (landmarks + alignment + 128-d embedding for known face boxes);
- CNN (MMOD) detection images/s on FDDB photos (upsample 1, face_recognition's default);
- HOG detection images/s (upsample 1);
- end-to-end images/s on single-face LFW photos: face_recognition's face_locations +
  face_encodings against facegate's analyze (one image at a time) and analyze_many (a batch
  over both cores);
- peak resident memory of a fresh process with every facegate model loaded;
- embedding faces/s per pack (``--packs dlib,mobilefacenet --home DIR``), with and without
  test-time flip; ``--packs-only`` runs just that (no face_recognition needed) and writes
  bench/results/throughput_packs.json.
Writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
HOME = REPO / "bench" / ".cache" / "home"


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_start": os.getloadavg(),
    }


MEMORY_PROBE = """
import json, sys
from pathlib import Path
from facegate.config import EngineConfig
from facegate.imageio import decode
from facegate.models.onnx_runtime import OnnxMmodDetector
from facegate.pipeline.engine import FaceEngine

def peak():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

home, photo = Path(sys.argv[1]), sys.argv[2]
engine = FaceEngine(EngineConfig(runtime="onnx", detector="hog", landmarks68=True), home=home)
engine.load()
engine._landmarks68().load()
cnn = OnnxMmodDetector(home, upsample=1)
cnn.load()
out = {"all_models_loaded": peak()}
image = decode(photo)
engine.analyze(image)
out["after_hog_analyze"] = peak()
cnn.detect(image)
out["after_cnn_detect_upsample1"] = peak()
out["photo_pixels"] = int(image.shape[0] * image.shape[1])
print(json.dumps(out))
"""


def peak_memory_mb(photo: Path) -> dict[str, Any]:
    """Peak RSS (MB) of a fresh process: every model loaded (HOG, CNN, 5- and 68-point
    landmarks, embedder), then after analysing one photo with HOG, then after the CNN on it."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(HOME), str(photo)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def pack_embedding_rates(
    packs: list[str], home: Path, photos: list[Any], rounds: int = 7, batch: int | None = None
) -> dict[str, Any]:
    """Embedding faces/s per pack on the same photos: chips cut once (the pack's alignment),
    then the embedder alone, and with test-time flip (twice the work). The packs are timed in
    alternation, ``rounds`` times each (best kept), so that changing load on a shared machine
    hits every pack alike."""
    import numpy as np

    from facegate.config import EngineConfig
    from facegate.models.flip import flip_average
    from facegate.pipeline.align import arcface_chip, arcface_points_from_68, face_chip
    from facegate.pipeline.engine import FaceEngine

    work: dict[str, tuple[Any, Any, str]] = {}
    for name in packs:
        engine = FaceEngine(EngineConfig(pack=name, landmarks68=True), home=home).load()
        arcface = engine.alignment == "arcface-112"
        chips = []
        for img in photos:
            for face in engine.detect(img).faces:
                if arcface and face.landmarks68 is not None:
                    chips.append(arcface_chip(img, arcface_points_from_68(face.landmarks68)))
                elif not arcface and face.landmarks is not None:
                    chips.append(face_chip(img, face.landmarks))
        embedder = engine._backends()[2]
        if batch is not None and hasattr(embedder, "batch_size"):
            embedder.batch_size = batch
        embedder.embed(np.stack(chips))  # warm-up
        work[name] = (embedder, np.stack(chips), engine.pack_id)
    best = {name: [float("inf"), float("inf")] for name in packs}
    for _ in range(rounds):
        for name, (embedder, stack, _) in work.items():
            for k, fn in enumerate((embedder.embed, lambda c, e=embedder: flip_average(e, c))):
                t0 = time.perf_counter()
                fn(stack)
                best[name][k] = min(best[name][k], time.perf_counter() - t0)
    rates: dict[str, Any] = {}
    for name, (_, stack, pack_id) in work.items():
        rates[name] = {
            "pack_id": pack_id,
            "faces": len(stack),
            "chip": int(stack.shape[1]),
            "rounds": rounds,
            "embedding_faces_per_s": len(stack) / best[name][0],
            "with_flip_faces_per_s": len(stack) / best[name][1],
        }
        print(json.dumps({name: rates[name]}), flush=True)
    return rates


def packs_only(args: argparse.Namespace) -> None:
    from facegate.imageio import decode
    from facegate.models.onnx_runtime import set_intra_op_threads

    set_intra_op_threads(args.threads)
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    photos = [decode(p) for p in lfw]
    result: dict[str, Any] = {
        "machine": machine(),
        "command": "bench/throughput.py " + " ".join(sys.argv[1:]),
        "intra_op_threads": args.threads or os.cpu_count(),
        "embedder_batch": args.batch,
        "embedding_per_pack": pack_embedding_rates(
            args.packs.split(","), args.home, photos, batch=args.batch
        ),
    }
    result["machine"]["load_average_end"] = os.getloadavg()
    suffix = f"_{args.threads}thread" if args.threads else ""
    suffix += f"_batch{args.batch}" if args.batch else ""
    out = REPO / "bench" / "results" / f"throughput_packs{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40, help="single-face LFW photos")
    ap.add_argument(
        "--threads", type=int, default=None, help="--packs-only: ONNX Runtime intra-op threads"
    )
    ap.add_argument("--batch", type=int, default=None, help="--packs-only: embedder batch size")
    ap.add_argument("--fddb", type=int, default=8, help="FDDB photos for the CNN detector")
    ap.add_argument("--packs", default="dlib", help="comma-separated packs for embedding rates")
    ap.add_argument("--home", type=Path, default=HOME, help="data dir where packs are installed")
    ap.add_argument(
        "--packs-only",
        action="store_true",
        help="only the per-pack embedding rates (no face_recognition needed); "
        "writes bench/results/throughput_packs.json",
    )
    args = ap.parse_args()
    if args.packs_only:
        packs_only(args)
        return
    compare(args)


def compare(args: argparse.Namespace) -> None:
    import face_recognition as fr
    import numpy as np

    from facegate.config import EngineConfig
    from facegate.eval.datasets import read_fddb
    from facegate.imageio import decode
    from facegate.models.convert import convert_all
    from facegate.pipeline.engine import FaceEngine
    from facegate.types import BBox

    convert_all(HOME)
    result: dict[str, Any] = {"machine": machine(), "command": "bench/throughput.py"}
    lfw = sorted((DATA / "lfw").glob("*/*_0001.jpg"))[::97][: args.images]
    photos = [decode(p) for p in lfw]
    onnx = FaceEngine(EngineConfig(runtime="onnx", detector="hog", upsample=1), home=HOME).load()
    ref = FaceEngine(EngineConfig(runtime="dlib", detector="hog", upsample=1), home=HOME).load()

    # 1. Embedding: known boxes (found once by HOG), landmarks + alignment + embedding.
    located = [(img, fr.face_locations(img, 1, "hog")) for img in photos]
    located = [(img, locs) for img, locs in located if locs]
    n_faces = sum(len(locs) for _, locs in located)

    def fr_embed() -> None:
        for img, locs in located:
            fr.face_encodings(img, locs)

    # face_recognition's (top, right, bottom, left) has inclusive right/bottom edges.
    boxes = [[BBox(x1, y1, x2 + 1, y2 + 1) for y1, x2, y2, x1 in locs] for _, locs in located]

    def fg_embed(engine: FaceEngine) -> Callable[[], None]:
        def run() -> None:
            _, landmarker, _ = engine._backends()
            faces = []
            for (img, _), bs in zip(located, boxes, strict=True):
                faces.append((img, [landmarker.landmarks(img, b) for b in bs]))
            from facegate.pipeline.align import face_chip

            chips = np.stack([face_chip(img, lm) for img, lms in faces for lm in lms])
            engine._backends()[2].embed(chips)

        return run

    t_fr, t_dlib, t_onnx = timed(fr_embed, 2), timed(fg_embed(ref), 2), timed(fg_embed(onnx), 3)
    result["embedding_faces_per_s"] = {
        "faces": n_faces,
        "face_recognition": n_faces / t_fr,
        "facegate_dlib_runtime": n_faces / t_dlib,
        "facegate_onnx": n_faces / t_onnx,
        "ratio_onnx_vs_face_recognition": t_fr / t_onnx,
    }
    print(json.dumps(result["embedding_faces_per_s"]))

    # 2. CNN detection on FDDB photos, upsample 1.
    fddb = [decode(im.path) for im in read_fddb(DATA / "fddb", [1]).images[: args.fddb]]
    cnn = FaceEngine(EngineConfig(runtime="onnx", detector="cnn", upsample=1), home=HOME).load()
    cnn_det = cnn._backends()[0]
    t_dlib_cnn = timed(lambda: [fr.face_locations(img, 1, "cnn") for img in fddb], 1)
    t_onnx_cnn = timed(lambda: [cnn_det.detect(img) for img in fddb], 2)
    result["cnn_detection_images_per_s"] = {
        "images": len(fddb),
        "mean_pixels": float(np.mean([i.shape[0] * i.shape[1] for i in fddb])),
        "dlib_via_face_recognition": len(fddb) / t_dlib_cnn,
        "facegate_onnx": len(fddb) / t_onnx_cnn,
        "ratio": t_dlib_cnn / t_onnx_cnn,
    }
    print(json.dumps(result["cnn_detection_images_per_s"]))

    # 3. HOG detection, upsample 1 (facegate runs dlib's HOG; batches use both cores).
    hog_det = onnx._backends()[0]
    t_fr_hog = timed(lambda: [fr.face_locations(img, 1, "hog") for img in photos])
    t_fg_hog = timed(lambda: [hog_det.detect(img) for img in photos])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        t_fg_hog_par = timed(lambda: list(pool.map(hog_det.detect, photos)))
    result["hog_detection_images_per_s"] = {
        "images": len(photos),
        "face_recognition": len(photos) / t_fr_hog,
        "facegate_one_stream": len(photos) / t_fg_hog,
        "facegate_all_cores": len(photos) / t_fg_hog_par,
    }
    print(json.dumps(result["hog_detection_images_per_s"]))

    # 4. End to end on single-face photos.
    def fr_e2e() -> None:
        for img in photos:
            fr.face_encodings(img, fr.face_locations(img, 1, "hog"))

    t_fr_e2e = timed(fr_e2e, 2)
    t_fg_e2e = timed(lambda: [onnx.analyze(img) for img in photos], 2)
    t_fg_many = timed(lambda: onnx.analyze_many(photos), 3)
    result["end_to_end_images_per_s"] = {
        "images": len(photos),
        "face_recognition": len(photos) / t_fr_e2e,
        "facegate_analyze_one_at_a_time": len(photos) / t_fg_e2e,
        "facegate_analyze_many_all_cores": len(photos) / t_fg_many,
        "ratio_one_at_a_time": t_fr_e2e / t_fg_e2e,
        "ratio_analyze_many": t_fr_e2e / t_fg_many,
    }
    print(json.dumps(result["end_to_end_images_per_s"]))

    result["embedding_per_pack"] = pack_embedding_rates(args.packs.split(","), args.home, photos)
    result["peak_memory_mb"] = peak_memory_mb(DATA / "face_recognition/examples/two_people.jpg")
    result["machine"]["load_average_end"] = os.getloadavg()
    print(json.dumps(result["peak_memory_mb"]))
    out = REPO / "bench" / "results" / "throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
