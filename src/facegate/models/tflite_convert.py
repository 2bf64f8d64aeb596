"""Convert a pinned ``.tflite`` file to ONNX once and cache it.

The cache lives at ``<cache_dir>/models/<sha256 of the source>[-nchw].onnx`` (the suffix names
the input layout when it is not the file's own). The source is checked against the SHA-256 the
caller pins before it is parsed; the ONNX file is written to a temporary name in the same
folder and renamed into place, so readers never see half a model. Changing what the converter
emits for a given source requires a new cache key (delete the cached file or bump the pin).

Agreement with the TFLite runtime (``ai-edge-litert``, installed only in test and benchmark
environments) is measured by :func:`compare_with_tflite` and ``bench/tflite_agreement.py``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facegate.errors import ModelChecksumError, ModelFileMissingError
from facegate.models.files import sha256_file
from facegate.models.tflite_format import read_tflite
from facegate.models.tflite_onnx import InputLayout, build_onnx

logger = logging.getLogger(__name__)


def cached_onnx_path(cache_dir: Path, sha256: str, input_layout: InputLayout = "nhwc") -> Path:
    """Where the ONNX conversion of the source with ``sha256`` is cached."""
    suffix = "" if input_layout == "nhwc" else f"-{input_layout}"
    return Path(cache_dir) / "models" / f"{sha256}{suffix}.onnx"


def check_source(source: Path, sha256: str) -> None:
    """Raise unless ``source`` exists and hashes to ``sha256``."""
    if not Path(source).is_file():
        raise ModelFileMissingError(f"TFLite model file missing: {source}")
    actual = sha256_file(Path(source))
    if actual != sha256:
        raise ModelChecksumError(
            f"{Path(source).name} has SHA-256 {actual[:16]}..., expected {sha256[:16]}...: "
            "a damaged file or a different version"
        )


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem[:12]}-", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def convert_tflite(
    source: Path, sha256: str, cache_dir: Path, input_layout: InputLayout = "nhwc"
) -> Path:
    """The ONNX file for the TFLite model ``source`` (pinned to ``sha256``), converted once."""
    target = cached_onnx_path(cache_dir, sha256, input_layout)
    if target.is_file():
        return target
    check_source(source, sha256)
    logger.info("converting %s to ONNX at %s", Path(source).name, target)
    doc = f"converted by facegate from {Path(source).name} (SHA-256 {sha256})"
    model = build_onnx(read_tflite(source), input_layout, doc=doc)
    write_atomic(target, model.SerializeToString())
    return target


def compare_with_tflite(
    source: Path,
    onnx_path: Path,
    inputs: npt.NDArray[np.float32],
    input_layout: InputLayout,
    chunk: int = 32,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-row cosine between the TFLite runtime's outputs and the ONNX model's, per output.

    ``inputs`` are in the TFLite file's own layout (NHWC); the TFLite runtime is fed one
    batch of the file's fixed size at a time (the last one padded by repetition). Needs
    ``ai-edge-litert``, which facegate never installs at run time. ONNX Runtime runs ``chunk``
    inputs at a time.
    """
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(source))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    fixed = int(detail["shape"][0])
    reference: dict[str, list[npt.NDArray[np.float32]]] = {}
    for start in range(0, len(inputs), fixed):
        batch = inputs[start : start + fixed]
        padded = np.concatenate([batch, np.repeat(batch[-1:], fixed - len(batch), axis=0)])
        interpreter.set_tensor(detail["index"], padded.astype(np.float32))
        interpreter.invoke()
        for out in interpreter.get_output_details():
            reference.setdefault(out["name"], []).append(
                interpreter.get_tensor(out["index"])[: len(batch)]
            )
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = inputs.transpose(0, 3, 1, 2) if input_layout == "nchw" else inputs
    name = session.get_inputs()[0].name
    chunks = [
        session.run(None, {name: np.ascontiguousarray(feed[start : start + chunk])})
        for start in range(0, len(feed), chunk)
    ]
    cosines: dict[str, npt.NDArray[np.float64]] = {}
    for k, out in enumerate(session.get_outputs()):
        ref = np.concatenate(reference[out.name]).reshape(len(inputs), -1).astype(np.float64)
        got = np.concatenate([np.asarray(c[k]) for c in chunks]).reshape(len(inputs), -1)
        got = got.astype(np.float64)
        norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
        cosines[out.name] = (ref * got).sum(axis=1) / np.maximum(norms, 1e-30)
    return cosines
