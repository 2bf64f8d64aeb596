"""Time dlib's networks against their ONNX conversions and measure how closely they agree.

Writes ``bench/results/dlib_onnx.json``. Run:

    .venv/bin/python bench/dlib_onnx.py --examples ../shared/data/face_recognition/examples

Embedding: per-face time at batch 1 and batch 32 (dlib: ``compute_face_descriptor`` on one
chip, and on a list of 32). Detection: one 512x512 photo, ``upsample`` 0 and 1, median of
``--repeat`` runs (dlib's CNN with upsample 1 runs once: it is slow on small machines).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import dlib
import numpy as np

from facegate.models.convert import (
    CNN_FILE,
    EMBEDDER_FILE,
    dlib_rect_to_bbox,
    match_boxes,
    source_path,
)
from facegate.models.files import model_path
from facegate.models.onnx_runtime import OnnxEmbedder, OnnxMmodDetector

REPO = Path(__file__).resolve().parents[1]


def paired_times(
    dlib_fn: Callable[[], object], onnx_fn: Callable[[], object], repeat: int, dlib_repeat: int
) -> tuple[float, float]:
    """Median seconds of each (already warmed up), runs interleaved so that load from other
    processes (the machine may be shared) falls on both alike."""
    dlib_times, onnx_times = [], []
    for i in range(repeat):
        if i < dlib_repeat:
            start = time.perf_counter()
            dlib_fn()
            dlib_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        onnx_fn()
        onnx_times.append(time.perf_counter() - start)
    return statistics.median(dlib_times), statistics.median(onnx_times)


def make_chips(examples: Path) -> np.ndarray:
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
    chips = []
    for name in ("obama_small.jpg", "two_people.jpg", "alex-lacamoire.png", "biden.jpg"):
        image = dlib.load_rgb_image(str(examples / name))
        for rect in detector(image, 0):
            chips.append(dlib.get_face_chip(image, predictor(image, rect), size=150, padding=0.25))
    return np.stack(chips)


def bench_embedder(cache: Path, chips: np.ndarray, repeat: int) -> dict[str, float]:
    reference = dlib.face_recognition_model_v1(str(source_path(EMBEDDER_FILE)))
    onnx = OnnxEmbedder(cache, batch_size=32)
    batch32 = np.concatenate([chips] * (32 // len(chips) + 1))[:32]
    batch32_list = [np.ascontiguousarray(c) for c in batch32]
    ref = np.asarray([np.asarray(reference.compute_face_descriptor(c)) for c in chips])
    raw = onnx.embed_raw(chips).astype(np.float64)
    cos = (ref * raw).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(raw, axis=1))
    dlib_1, onnx_1 = paired_times(
        lambda: reference.compute_face_descriptor(batch32_list[0]),
        lambda: onnx.embed(batch32[:1]),
        repeat,
        repeat,
    )
    dlib_32, onnx_32 = paired_times(
        lambda: reference.compute_face_descriptor(batch32_list),
        lambda: onnx.embed(batch32),
        repeat,
        repeat,
    )
    return {
        "faces_compared": len(chips),
        "worst_cosine": float(cos.min()),
        "max_abs_diff": float(np.abs(ref - raw).max()),
        "dlib_ms_per_face_batch1": 1e3 * dlib_1,
        "onnx_ms_per_face_batch1": 1e3 * onnx_1,
        "dlib_ms_per_face_batch32": 1e3 * dlib_32 / 32,
        "onnx_ms_per_face_batch32": 1e3 * onnx_32 / 32,
    }


def bench_detector(cache: Path, image: np.ndarray, repeat: int) -> dict[str, float | int]:
    cnn = dlib.cnn_face_detection_model_v1(str(source_path(CNN_FILE)))
    out: dict[str, float | int] = {}
    worst = 1.0
    h, w = image.shape[:2]
    for upsample in (0, 1):
        onnx = OnnxMmodDetector(cache, upsample=upsample)
        ref = [dlib_rect_to_bbox(d.rect).clip(w, h) for d in cnn(image, upsample)]
        ours = [box for box, _ in onnx.detect(image)]
        matched, iou = match_boxes(ref, ours)
        worst = min(worst, iou)
        out[f"up{upsample}_faces_dlib"] = len(ref)
        out[f"up{upsample}_faces_onnx"] = len(ours)
        out[f"up{upsample}_faces_matched"] = matched
        dlib_s, onnx_s = paired_times(
            partial(cnn, image, upsample),
            partial(onnx.detect, image),
            repeat,
            repeat if upsample == 0 else 1,
        )
        out[f"up{upsample}_dlib_ms"] = 1e3 * dlib_s
        out[f"up{upsample}_onnx_ms"] = 1e3 * onnx_s
    out["worst_iou"] = worst
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--examples", type=Path, default=REPO.parent / "shared/data/face_recognition/examples"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/dlib_onnx.json")
    args = parser.parse_args()
    photo = dlib.load_rgb_image(str(args.examples / "two_people.jpg"))
    side = min(photo.shape[:2])
    image = np.ascontiguousarray(
        cv2.resize(photo[:side, :side], (512, 512), interpolation=cv2.INTER_AREA)
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        results = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "embedder": bench_embedder(cache, make_chips(args.examples), args.repeat),
            "cnn_detector_512x512": bench_detector(cache, image, args.repeat),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
