"""The TFLite converter against the TFLite runtime on every face of LFW view-2 fold 1.

For each image of fold 1's 600 pairs: dlib's HOG detector (upsample 1) and 68-point landmarks,
every face found, the ArcFace 112x112 chip (``arcface_points_from_68`` + ``arcface_chip``),
``(x - 127.5) / 128``; then MobileFaceNet on ``ai-edge-litert`` (the reference TFLite runtime,
installed only in test/bench environments) and on ONNX Runtime from facegate's conversion; the
cosine of the two raw embeddings per face. BlazeFace's two detectors are compared on each whole
image resized to their input (``--blazeface DIR`` holding the .tflite files). Run:

    nice .venv/bin/python bench/tflite_agreement.py --lfw ../shared/data/lfw --home DATA_DIR

where DATA_DIR has the pack installed (``facegate models install mobilefacenet``).
Writes bench/results/tflite_agreement.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.config import EngineConfig, ImageLimits
from facegate.eval.datasets import read_lfw_pairs
from facegate.models.install import converted_embedder
from facegate.models.registry import PackRegistry
from facegate.models.tflite_convert import compare_with_tflite, convert_tflite
from facegate.pipeline.align import arcface_chip, arcface_points_from_68
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]
BLAZEFACE = {
    "face_detection_back.tflite": (
        "e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8"
    ),
    "face_detection_full_range.tflite": (
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
    ),
}


def fold_images(lfw: Path, fold: int) -> list[Path]:
    pairs = [p for p in read_lfw_pairs(lfw / "pairs.txt", lfw) if p.fold == fold]
    return sorted({path for p in pairs for path in (p.a, p.b)})


def chips_of(images: list[Path]) -> tuple[np.ndarray, int, list[np.ndarray]]:
    engine = FaceEngine(EngineConfig(detector="hog", upsample=1, landmarks68=True), ImageLimits())
    chips, no_face, pixels_all = [], 0, []
    for i, path in enumerate(images):
        pixels = engine.decode(path)
        pixels_all.append(pixels)
        faces = [f for f in engine.detect(pixels).faces if f.landmarks68 is not None]
        no_face += not faces
        for face in faces:
            chips.append(arcface_chip(pixels, arcface_points_from_68(face.landmarks68)))  # type: ignore[arg-type]
        if (i + 1) % 200 == 0:
            print(f"{i + 1}/{len(images)} images, {len(chips)} faces", file=sys.stderr)
    return np.stack(chips), no_face, pixels_all


def summary(cos: np.ndarray) -> dict[str, Any]:
    return {
        "count": int(cos.size),
        "min_cosine": float(cos.min()),
        "mean_cosine": float(cos.mean()),
        "below_0.9999": int((cos < 0.9999).sum()),
    }


def blazeface(folder: Path, pixels: list[np.ndarray], cache: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sha in BLAZEFACE.items():
        source = folder / name
        onnx_path = convert_tflite(source, sha, cache)
        size = 256 if "back" in name else 192
        x = np.stack([cv2.resize(p, (size, size)) for p in pixels]).astype(np.float32)
        cos = compare_with_tflite(source, onnx_path, x / 127.5 - 1.0, "nhwc")
        out[name] = {key: summary(value) for key, value in cos.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    ap.add_argument(
        "--home", type=Path, default=Path(os.environ.get("FACEGATE_HOME", "facegate-data"))
    )
    ap.add_argument("--fold", type=int, default=1, help="1-based fold of view 2")
    ap.add_argument(
        "--blazeface", type=Path, default=None, help="folder with BlazeFace .tflite files"
    )
    ap.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "tflite_agreement.json"
    )
    args = ap.parse_args()
    registry = PackRegistry(args.home)
    pack = registry.get("mobilefacenet")
    source = registry.path(pack, "MobileFaceNet.tflite")
    onnx_path = converted_embedder(registry, "mobilefacenet")
    images = fold_images(args.lfw, args.fold - 1)
    start = time.perf_counter()
    chips, no_face, pixels = chips_of(images)
    x = (chips.astype(np.float32) - 127.5) / 128.0
    cos = compare_with_tflite(source, onnx_path, x, "nchw")["embeddings"]
    result: dict[str, Any] = {
        "what": "MobileFaceNet: facegate's ONNX conversion vs ai-edge-litert, per face",
        "lfw_fold": args.fold,
        "images": len(images),
        "images_without_face": no_face,
        "mobilefacenet": summary(cos),
        "command": " ".join(["bench/tflite_agreement.py", *sys.argv[1:]]),
        "load_average": os.getloadavg(),
        "nproc": os.cpu_count(),
    }
    if args.blazeface is not None:
        result["blazeface_whole_images"] = blazeface(args.blazeface, pixels, args.home)
    result["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
