"""Agreement of the converted ONNX networks with dlib's own runtime, on real data.

- Embedder: every face the HOG detector (upsample 1) finds in the images of LFW view-2 fold 1
  (the first 600 pairs), aligned once, embedded by dlib and by ONNX Runtime: cosine per face.
- CNN detector: every image of FDDB fold 1, dlib's MMOD detector vs the ONNX one (same
  upsample): faces matched one-to-one by IoU, extra and missing faces with their scores.

    .venv/bin/python bench/agreement.py --workers 2

Writes bench/results/agreement.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CACHE = REPO / "bench" / ".cache" / "home"


def embed_one(path: str) -> list[float]:
    import dlib

    from facegate.imageio import decode
    from facegate.models.dlib_runtime import DlibEmbedder, DlibHogDetector, DlibShapePredictor
    from facegate.models.onnx_runtime import OnnxEmbedder
    from facegate.pipeline.align import face_chip

    g = globals()
    if "_models" not in g:
        g["_models"] = (
            DlibHogDetector(1),
            DlibShapePredictor(5),
            DlibEmbedder(),
            OnnxEmbedder(CACHE),
        )
    det, sp, ref, onnx = g["_models"]
    del dlib
    image = decode(path)
    boxes = [b for b, _ in det.detect(image)]
    if not boxes:
        return []
    chips = np.stack([face_chip(image, sp.landmarks(image, b)) for b in boxes])
    a, b = ref.embed(chips), onnx.embed(chips)
    return [float(x) for x in (a * b).sum(axis=1)]


def detect_one(args: tuple[str, int]) -> dict[str, Any]:
    from facegate.imageio import decode
    from facegate.models.convert import match_boxes
    from facegate.models.dlib_runtime import DlibCnnDetector
    from facegate.models.onnx_runtime import OnnxMmodDetector

    path, upsample = args
    g = globals()
    if "_cnn" not in g:
        g["_cnn"] = (DlibCnnDetector(upsample), OnnxMmodDetector(CACHE, upsample=upsample))
    ref, onnx = g["_cnn"]
    image = decode(path)
    t0 = time.perf_counter()
    a = ref.detect(image)
    t1 = time.perf_counter()
    b = onnx.detect(image)
    t2 = time.perf_counter()
    matched, worst = match_boxes([x for x, _ in a], [x for x, _ in b])
    return {
        "image": path,
        "dlib": [[*box.as_list(), round(s, 4)] for box, s in a],
        "onnx": [[*box.as_list(), round(s, 4)] for box, s in b],
        "matched": matched,
        "worst_iou": worst if a else 1.0,
        "dlib_s": t1 - t0,
        "onnx_s": t2 - t1,
    }


def lfw_fold1_images(lfw: Path) -> list[str]:
    from facegate.eval.datasets import read_lfw_pairs

    pairs = [p for p in read_lfw_pairs(lfw / "pairs.txt", lfw) if p.fold == 0][:600]
    if not pairs:  # folds may be numbered from 1
        pairs = read_lfw_pairs(lfw / "pairs.txt", lfw)[:600]
    return sorted({str(p.a) for p in pairs} | {str(p.b) for p in pairs})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--upsample", type=int, default=1)
    ap.add_argument("--skip-detector", action="store_true")
    args = ap.parse_args()
    from facegate.eval.datasets import read_fddb
    from facegate.models.convert import convert_all

    convert_all(CACHE)
    out: dict[str, Any] = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs"}
    images = lfw_fold1_images(DATA / "lfw")
    with ProcessPoolExecutor(args.workers) as pool:
        cosines = [c for cs in pool.map(embed_one, images, chunksize=8) for c in cs]
    out["embedder"] = {
        "dataset": "LFW view-2 fold 1 (first 600 pairs), every HOG face",
        "images": len(images),
        "faces": len(cosines),
        "min_cosine": min(cosines),
        "faces_below_0.9999": sum(c < 0.9999 for c in cosines),
    }
    print(json.dumps(out["embedder"]))
    if not args.skip_detector:
        fddb = read_fddb(DATA / "fddb", [1])
        jobs = [(str(im.path), args.upsample) for im in fddb.images]
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(detect_one, jobs))
        extra = [r for r in rows if len(r["onnx"]) > r["matched"]]
        missing = [r for r in rows if len(r["dlib"]) > r["matched"]]
        out["cnn_detector"] = {
            "dataset": f"FDDB fold 1, upsample {args.upsample}",
            "images": len(rows),
            "dlib_faces": sum(len(r["dlib"]) for r in rows),
            "onnx_faces": sum(len(r["onnx"]) for r in rows),
            "matched": sum(r["matched"] for r in rows),
            "min_iou_matched": min(r["worst_iou"] for r in rows),
            "images_with_extra": [{k: r[k] for k in ("image", "dlib", "onnx")} for r in extra],
            "images_with_missing": [{k: r[k] for k in ("image", "dlib", "onnx")} for r in missing],
            "dlib_s_total": sum(r["dlib_s"] for r in rows),
            "onnx_s_total": sum(r["onnx_s"] for r in rows),
        }
        print(json.dumps({k: v for k, v in out["cnn_detector"].items() if "images_with" not in k}))
    (REPO / "bench/results").mkdir(exist_ok=True)
    (REPO / "bench/results/agreement.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
