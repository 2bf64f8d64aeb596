"""Convert dlib's network files to ONNX once, cache them, and check them against dlib.

The cache lives at ``<cache_dir>/models/<sha256 of the source file>.onnx``. A file is written
to a temporary name in the same folder and renamed into place, so readers never see half a
model and concurrent first uses are safe. The source is checked against its pinned SHA-256
(:mod:`facegate.models.files`) before it is read. Changing what the converter emits for a
given source requires a new cache key (delete the cached file or bump the source pin).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ModelConversionError
from facegate.models.dlib_format import read_network
from facegate.models.dlib_onnx import build_embedder, build_mmod
from facegate.models.files import DLIB_FILES, check_file, model_path
from facegate.types import BBox, ImageArray, ProgressFn

logger = logging.getLogger(__name__)

EMBEDDER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FILE = "mmod_human_face_detector.dat"
CONVERTIBLE = (EMBEDDER_FILE, CNN_FILE)


def source_path(name: str) -> Path:
    """The installed, hash-checked dlib file ``name``."""
    return model_path(name)


def convert(source: Path, cache_dir: Path) -> Path:
    """The ONNX file for dlib network ``source``, converting it on first use."""
    source = Path(source)
    pin = DLIB_FILES.get(source.name)
    if pin is None or source.name not in CONVERTIBLE:
        raise ModelConversionError(f"{source.name} is not a dlib network facegate converts")
    check_file(source, pin.sha256)
    target = Path(cache_dir) / "models" / f"{pin.sha256}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("converting %s to ONNX at %s", source.name, target)
    net = read_network(source)
    model = build_embedder(net) if source.name == EMBEDDER_FILE else build_mmod(net)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{pin.sha256[:12]}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(model.SerializeToString())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def convert_all(cache_dir: Path) -> dict[str, Path]:
    """Convert (or find cached) every dlib network facegate runs on ONNX Runtime."""
    return {name: convert(source_path(name), cache_dir) for name in CONVERTIBLE}


@dataclass(frozen=True, slots=True)
class Agreement:
    """How closely the ONNX models agree with dlib on the inputs given."""

    chips: int
    min_cosine: float
    max_abs_diff: float
    images: int
    dlib_faces: int
    onnx_faces: int
    matched_faces: int
    min_iou: float

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


def dlib_rect_to_bbox(rect: Any) -> BBox:
    """A dlib ``rectangle`` (right and bottom inclusive) as a facegate box."""
    return BBox(
        float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1)
    )


def match_boxes(reference: list[BBox], found: list[BBox]) -> tuple[int, float]:
    """Greedy one-to-one matching by IoU: (matched count, worst IoU over the reference)."""
    free = list(found)
    worst, matched = 1.0, 0
    for box in reference:
        ious = [box.iou(other) for other in free]
        best = int(np.argmax(ious)) if ious else -1
        if best < 0 or ious[best] <= 0:
            worst = 0.0
            continue
        worst = min(worst, ious[best])
        matched += 1
        free.pop(best)
    return matched, worst


def verify_against_dlib(
    cache_dir: Path,
    chips: ImageArray,
    images: Sequence[ImageArray] = (),
    upsample: int = 1,
    progress: ProgressFn | None = None,
) -> Agreement:
    """Run dlib and the converted models on the same inputs and report their agreement.

    ``chips`` are ``(N, 150, 150, 3)`` uint8 RGB aligned faces; ``images`` RGB uint8 photos for
    the CNN detector (run with ``upsample``). Cosine and IoU are 1.0 when nothing was compared.
    ``progress`` hears of each chip and each image done (dlib's CNN takes seconds per photo).
    """
    report = progress or (lambda label, done, total: None)
    min_cos, max_diff = _compare_embedder(cache_dir, chips, report)
    dlib_faces = onnx_faces = matched = 0
    min_iou = 1.0
    if images:
        import dlib

        from facegate.models.onnx_runtime import OnnxMmodDetector

        cnn = dlib.cnn_face_detection_model_v1(str(source_path(CNN_FILE)))
        detector = OnnxMmodDetector(cache_dir, upsample=upsample)
        for done, image in enumerate(images, 1):
            h, w = image.shape[:2]
            ref_boxes = [dlib_rect_to_bbox(d.rect).clip(w, h) for d in cnn(image, upsample)]
            our_boxes = [box for box, _ in detector.detect(image)]
            hits, worst = match_boxes(ref_boxes, our_boxes)
            dlib_faces += len(ref_boxes)
            onnx_faces += len(our_boxes)
            matched += hits
            min_iou = min(min_iou, worst)
            report("CNN detector: dlib vs ONNX", done, len(images))
    return Agreement(
        len(chips), min_cos, max_diff, len(images), dlib_faces, onnx_faces, matched, min_iou
    )


def _compare_embedder(
    cache_dir: Path, chips: ImageArray, report: ProgressFn
) -> tuple[float, float]:
    """Worst cosine and largest absolute difference of dlib's and the ONNX embeddings."""
    if not len(chips):
        return 1.0, 0.0
    import dlib

    from facegate.models.onnx_runtime import OnnxEmbedder

    reference = dlib.face_recognition_model_v1(str(source_path(EMBEDDER_FILE)))
    rows = []
    for done, chip in enumerate(chips, 1):
        rows.append(np.asarray(reference.compute_face_descriptor(chip)))
        report("embedder: dlib vs ONNX", done, len(chips))
    ref = np.asarray(rows)
    raw = OnnxEmbedder(cache_dir).embed_raw(chips).astype(np.float64)
    cos = (ref * raw).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(raw, axis=1))
    return float(cos.min()), float(np.abs(ref - raw).max())
