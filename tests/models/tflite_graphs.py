"""Small TFLite graphs built in memory (no .tflite file, no TensorFlow) for converter tests."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from facegate.models.tflite_format import TfliteGraph, TfliteOperator, TfliteTensor
from facegate.models.tflite_onnx import InputLayout, build_onnx

DEFAULTS: dict[str, dict[str, Any]] = {
    "CONV_2D": {"padding": "SAME", "activation": "NONE", "dilation_w": 1, "dilation_h": 1},
    "DEPTHWISE_CONV_2D": {
        "padding": "SAME",
        "activation": "NONE",
        "dilation_w": 1,
        "dilation_h": 1,
        "depth_multiplier": 1,
    },
    "MAX_POOL_2D": {"padding": "SAME", "activation": "NONE"},
    "AVERAGE_POOL_2D": {"padding": "SAME", "activation": "NONE"},
    "ADD": {"activation": "NONE"},
    "SUB": {"activation": "NONE"},
    "MUL": {"activation": "NONE"},
    "CONCATENATION": {"activation": "NONE"},
    "RESIZE_BILINEAR": {"align_corners": False, "half_pixel_centers": False},
}


class GraphBuilder:
    """Tensors and operators appended in order; ``build`` gives the :class:`TfliteGraph`."""

    def __init__(self) -> None:
        self.tensors: list[TfliteTensor] = []
        self.operators: list[TfliteOperator] = []

    def tensor(
        self, shape: tuple[int, ...], data: npt.ArrayLike | None = None, dtype: str = "float32"
    ) -> int:
        array = None if data is None else np.asarray(data, dtype=dtype).reshape(shape)
        self.tensors.append(
            TfliteTensor(f"t{len(self.tensors)}", tuple(shape), np.dtype(dtype), array)
        )
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], out_shape: tuple[int, ...], **options: Any) -> int:
        out = self.tensor(out_shape)
        merged = {**DEFAULTS.get(name, {}), **options}
        self.operators.append(TfliteOperator(name, tuple(inputs), (out,), MappingProxyType(merged)))
        return out

    def build(self, inputs: list[int], outputs: list[int]) -> TfliteGraph:
        return TfliteGraph(
            3, tuple(self.tensors), tuple(self.operators), tuple(inputs), tuple(outputs)
        )


def run_onnx(
    graph: TfliteGraph, x: npt.NDArray[np.float32], layout: InputLayout = "nhwc"
) -> list[npt.NDArray[np.float32]]:
    """Convert ``graph`` and run it on ``x`` (given NHWC; transposed for an NCHW input)."""
    model = build_onnx(graph, layout)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = x.transpose(0, 3, 1, 2) if layout == "nchw" and x.ndim == 4 else x
    return [np.asarray(v) for v in session.run(None, {session.get_inputs()[0].name: feed})]


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding, written from its documentation (out = ceil(in / stride))."""
    out = int(np.ceil(size / stride))
    needed = (out - 1) * stride + dilation * (kernel - 1) + 1
    total = max(needed - size, 0)
    return total // 2, total - total // 2


def conv_reference(
    x: npt.NDArray[np.float32],
    w: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    stride: int,
    same: bool,
    dilation: int = 1,
    depthwise: bool = False,
) -> npt.NDArray[np.float64]:
    """NHWC convolution (weights OHWI, or 1HW(C*M) for depthwise), by explicit sums."""
    _, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    ph = tf_same_pads(h, kh, stride, dilation) if same else (0, 0)
    pw = tf_same_pads(wd, kw, stride, dilation) if same else (0, 0)
    xp = np.pad(x.astype(np.float64), ((0, 0), ph, pw, (0, 0)))
    out_h = (xp.shape[1] - dilation * (kh - 1) - 1) // stride + 1
    out_w = (xp.shape[2] - dilation * (kw - 1) - 1) // stride + 1
    channels = w.shape[3] if depthwise else w.shape[0]
    out = np.zeros((x.shape[0], out_h, out_w, channels))
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                :,
                i * dilation : i * dilation + stride * (out_h - 1) + 1 : stride,
                j * dilation : j * dilation + stride * (out_w - 1) + 1 : stride,
            ]
            if depthwise:
                mult = channels // c
                out += np.repeat(patch, mult, axis=3) * w[0, i, j]
            else:
                out += patch @ w[:, i, j, :].T.astype(np.float64)
    return out + bias
