"""MTCNN's three networks (facenet-pytorch's P-, R- and O-Net) as ONNX graphs.

Built from the state dicts :func:`facegate.models.torch_format.read_state_dict` reads from
``facenet_pytorch/data/{pnet,rnet,onet}.pt``, layer for layer as facenet-pytorch 2.6.0 defines
them (``facenet_pytorch/models/mtcnn.py``): 3x3/2x2 convolutions without padding, per-channel
PReLU, max pooling with ``ceil_mode=True``, a ``permute(0, 3, 2, 1)`` before the first dense
layer (the weights were trained on transposed images), softmax over the two face/background
classes.

Every graph takes ``image``: float32 ``(N, 3, H, W)`` RGB pixel values in 0-255 (the
normalisation ``(x - 127.5) / 128`` runs inside the graph) and returns

* P-Net (any ``H, W >= 12``): ``regression`` ``(N, 4, H', W')`` and ``prob`` ``(N, 2, H', W')``;
* R-Net (24x24): ``regression`` ``(N, 4)`` and ``prob`` ``(N, 2)``;
* O-Net (48x48): ``regression`` ``(N, 4)``, ``points`` ``(N, 10)`` (five x then five y, as
  fractions of the box) and ``prob`` ``(N, 2)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelConversionError

OPSET = 17
IR_VERSION = 8
NETS = ("pnet", "rnet", "onet")
INPUT_SIZE = {"pnet": None, "rnet": 24, "onet": 48}

StateDict = dict[str, npt.NDArray[Any]]


class _Graph:
    def __init__(self, state: StateDict) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: npt.NDArray[Any]) -> str:
        name = self._name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(self, key: str) -> npt.NDArray[np.float32]:
        try:
            return np.asarray(self.state[key], dtype=np.float32)
        except KeyError:
            raise ModelConversionError(f"MTCNN state dict lacks {key!r}") from None

    def op(self, kind: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self._name(stem)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv(self, x: str, layer: str) -> str:
        w, b = self.weight(f"{layer}.weight"), self.weight(f"{layer}.bias")
        return self.op("Conv", [x, self.const(layer + "_w", w), self.const(layer + "_b", b)], layer)

    def prelu(self, x: str, layer: str, spatial: bool) -> str:
        slope = self.weight(f"{layer}.weight")
        slope = slope.reshape(-1, 1, 1) if spatial else slope.reshape(-1)
        return self.op("PRelu", [x, self.const(layer + "_slope", slope)], layer)

    def pool(self, x: str, kernel: int, stride: int) -> str:
        return self.op(
            "MaxPool", [x], "pool", kernel_shape=[kernel, kernel], strides=[stride, stride],
            ceil_mode=1,
        )  # fmt: skip

    def dense(self, x: str, layer: str) -> str:
        w, b = self.weight(f"{layer}.weight"), self.weight(f"{layer}.bias")
        return self.op(
            "Gemm", [x, self.const(layer + "_w", w), self.const(layer + "_b", b)], layer, transB=1
        )

    def normalise(self, x: str) -> str:
        shifted = self.op("Sub", [x, self.const("mean", np.array(127.5, np.float32))], "sub")
        return self.op("Mul", [shifted, self.const("scale", np.array(0.0078125, np.float32))], "n")

    def flatten_transposed(self, x: str) -> str:
        return self.op("Flatten", [self.op("Transpose", [x], "perm", perm=[0, 3, 2, 1])], "flat")

    def conv_stack(self, x: str, pools: list[tuple[int, int] | None]) -> str:
        for i, pool in enumerate(pools, start=1):
            x = self.prelu(self.conv(x, f"conv{i}"), f"prelu{i}", spatial=True)
            if pool is not None:
                x = self.pool(x, *pool)
        return x


def _finish(
    graph: _Graph, name: str, outputs: list[tuple[str, str, list[Any]]], size: int | None
) -> onnx.ModelProto:
    for src, dst, _ in outputs:
        graph.nodes.append(helper.make_node("Identity", [src], [dst]))
    spatial: list[Any] = ["H", "W"] if size is None else [size, size]
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, *spatial])
    outs = [helper.make_tensor_value_info(d, TensorProto.FLOAT, shape) for _, d, shape in outputs]
    model = helper.make_model(
        helper.make_graph(graph.nodes, f"mtcnn_{name}", [inp], outs, graph.inits),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facegate",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def build_pnet(state: StateDict) -> onnx.ModelProto:
    """P-Net: the fully convolutional proposal network (12x12 windows, stride 2)."""
    g = _Graph(state)
    x = g.conv_stack(g.normalise("image"), [(2, 2), None, None])
    reg = g.conv(x, "conv4_2")
    prob = g.op("Softmax", [g.conv(x, "conv4_1")], "softmax", axis=1)
    return _finish(
        g,
        "pnet",
        [(reg, "regression", ["N", 4, "h", "w"]), (prob, "prob", ["N", 2, "h", "w"])],
        None,
    )


def build_rnet(state: StateDict) -> onnx.ModelProto:
    """R-Net: refines P-Net's candidates on 24x24 crops."""
    g = _Graph(state)
    x = g.conv_stack(g.normalise("image"), [(3, 2), (3, 2), None])
    x = g.prelu(g.dense(g.flatten_transposed(x), "dense4"), "prelu4", spatial=False)
    prob = g.op("Softmax", [g.dense(x, "dense5_1")], "softmax", axis=1)
    reg = g.dense(x, "dense5_2")
    return _finish(
        g, "rnet", [(reg, "regression", ["N", 4]), (prob, "prob", ["N", 2])], INPUT_SIZE["rnet"]
    )


def build_onet(state: StateDict) -> onnx.ModelProto:
    """O-Net: final boxes, scores and five landmarks on 48x48 crops."""
    g = _Graph(state)
    x = g.conv_stack(g.normalise("image"), [(3, 2), (3, 2), (2, 2), None])
    x = g.prelu(g.dense(g.flatten_transposed(x), "dense5"), "prelu5", spatial=False)
    prob = g.op("Softmax", [g.dense(x, "dense6_1")], "softmax", axis=1)
    reg, points = g.dense(x, "dense6_2"), g.dense(x, "dense6_3")
    outputs = [
        (reg, "regression", ["N", 4]),
        (points, "points", ["N", 10]),
        (prob, "prob", ["N", 2]),
    ]
    return _finish(g, "onet", outputs, INPUT_SIZE["onet"])


BUILDERS = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}


def build(net: str, state: StateDict) -> onnx.ModelProto:
    """The ONNX graph of MTCNN network ``net`` (``pnet``, ``rnet`` or ``onet``)."""
    if net not in BUILDERS:
        raise ModelConversionError(f"unknown MTCNN network {net!r}")
    return BUILDERS[net](state)
