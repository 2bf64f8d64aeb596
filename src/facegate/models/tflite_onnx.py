"""Build an ONNX graph equivalent to a parsed TFLite model (:mod:`tflite_format`).

TFLite keeps images NHWC; ONNX's convolutions and pools are NCHW. Every 4-d activation that a
spatial operator produces is kept NCHW inside the graph, and converted back with a Transpose
only where an operator needs TFLite's own layout (``RESHAPE``, a graph output). Constants that
meet an NCHW tensor in an element-wise operator are broadcast-aligned and permuted when the
graph is built, so no Transpose runs for them.

The batch dimension is dynamic (``N``) whatever the file fixes (MobileFaceNet's file fixes 2).
The graph input keeps its TFLite name; its layout is the file's (``input_layout="nhwc"``) or
NCHW (``"nchw"``, the ArcFace-format layout). Outputs keep their TFLite names and layout.

Lowering, per TFLite operator (``fused_activation_function`` adds Relu / Clip / Tanh after):
``CONV_2D`` -> Conv (weights OHWI -> OIHW), ``DEPTHWISE_CONV_2D`` -> grouped Conv (1HW(C*M) ->
(C*M)1HW, ``group = C``), ``MAX_POOL_2D`` / ``AVERAGE_POOL_2D`` -> MaxPool / AveragePool
(padded cells not counted), explicit pads for ``SAME`` (TFLite puts the odd pixel at the end);
``ADD`` / ``SUB`` / ``MUL`` -> Add / Sub / Mul; ``ABS``, ``RELU``, ``RELU6``, ``LOGISTIC``,
``TANH`` -> Abs, Relu, Clip(0, 6), Sigmoid, Tanh; ``PAD`` -> Pad; ``CONCATENATION`` -> Concat;
``RESHAPE`` -> Reshape (batch copied, ``0``); ``RESIZE_BILINEAR`` -> Resize (linear;
``half_pixel_centers`` -> ``half_pixel``, ``align_corners`` -> ``align_corners``, else
``asymmetric``); ``DEQUANTIZE`` of a constant (float16 or per-tensor int8/uint8) is folded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelConversionError
from facegate.models.tflite_format import TfliteGraph, TfliteOperator

OPSET = 17
IR_VERSION = 8
BATCH = "N"
TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)
NHWC_AXIS_IN_NCHW = (0, 2, 3, 1)  # NHWC axis i lives at NCHW axis NHWC_AXIS_IN_NCHW[i]

InputLayout = Literal["nhwc", "nchw"]


@dataclass(frozen=True, slots=True)
class _Value:
    """A converted tensor: its ONNX name and whether it is held NCHW (TFLite's is NHWC)."""

    name: str
    nchw: bool


class _Converter:
    def __init__(self, graph: TfliteGraph, input_layout: InputLayout) -> None:
        self.graph = graph
        self.input_layout = input_layout
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[int, _Value] = {}
        self.folded: dict[int, npt.NDArray[Any]] = {}
        self._transposed: dict[tuple[str, bool], str] = {}
        self._count = 0

    # -- graph building -------------------------------------------------------------------
    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array: npt.ArrayLike) -> str:
        name = self.fresh(stem)
        arr = np.ascontiguousarray(array)
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    # -- tensors --------------------------------------------------------------------------
    def shape(self, index: int) -> tuple[int, ...]:
        return self.graph.tensors[index].shape

    def constant(self, index: int) -> npt.NDArray[Any] | None:
        if index in self.folded:
            return self.folded[index]
        return self.graph.tensors[index].data

    def const_of(self, index: int) -> npt.NDArray[Any]:
        data = self.constant(index)
        if data is None:
            raise ModelConversionError(
                f"tensor {self.graph.tensors[index].name!r} must be a constant"
            )
        return data

    def float_const(self, index: int) -> npt.NDArray[np.float32]:
        return self.const_of(index).astype(np.float32)

    def value(self, index: int, nchw: bool | None) -> str:
        """Tensor ``index`` as an ONNX name, NCHW (True), NHWC (False) or as held (None)."""
        data = self.constant(index)
        if data is not None:
            if nchw and data.ndim == 4:
                data = data.transpose(TO_NCHW)
            return self.const("const", data)
        if index not in self.values:
            raise ModelConversionError(f"tensor {self.graph.tensors[index].name!r} has no producer")
        held = self.values[index]
        if nchw is None or held.nchw == nchw:
            return held.name
        key = (held.name, nchw)
        if key not in self._transposed:
            perm = TO_NCHW if nchw else TO_NHWC
            self._transposed[key] = self.node("Transpose", [held.name], "transpose", perm=perm)
        return self._transposed[key]

    def is_nchw(self, index: int) -> bool:
        held = self.values.get(index)
        return held is not None and held.nchw and self.constant(index) is None

    def set(self, op: TfliteOperator, name: str, nchw: bool) -> None:
        self.values[op.outputs[0]] = _Value(name, nchw)

    def activation(self, name: str, kind: str) -> str:
        if kind == "NONE":
            return name
        if kind == "RELU":
            return self.node("Relu", [name], "relu")
        if kind in ("RELU6", "RELU_N1_TO_1"):
            low, high = (0.0, 6.0) if kind == "RELU6" else (-1.0, 1.0)
            lo, hi = self.const("lo", np.float32(low)), self.const("hi", np.float32(high))
            return self.node("Clip", [name, lo, hi], "clip")
        if kind == "TANH":
            return self.node("Tanh", [name], "tanh")
        raise ModelConversionError(f"fused activation {kind} is not supported")

    # -- build ----------------------------------------------------------------------------
    def run(self) -> onnx.GraphProto:
        inputs = [self.graph_input(i) for i in self.graph.inputs]
        for op in self.graph.operators:
            lower = LOWERINGS.get(op.name)
            if lower is None:
                raise ModelConversionError(f"TFLite operator {op.name} is not supported")
            lower(self, op)
        outputs = [self.graph_output(i) for i in self.graph.outputs]
        return helper.make_graph(self.nodes, "tflite", inputs, outputs, self.initializers)

    def graph_input(self, index: int) -> onnx.ValueInfoProto:
        tensor = self.graph.tensors[index]
        if tensor.dtype != np.float32:
            raise ModelConversionError(f"input {tensor.name!r} is {tensor.dtype}, not float32")
        dims: list[int | str] = [BATCH, *tensor.shape[1:]]
        nchw = self.input_layout == "nchw" and len(dims) == 4
        if nchw:
            dims = [dims[i] for i in TO_NCHW]
        self.values[index] = _Value(tensor.name, nchw)
        return helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, dims)

    def graph_output(self, index: int) -> onnx.ValueInfoProto:
        tensor = self.graph.tensors[index]
        self.nodes.append(helper.make_node("Identity", [self.value(index, False)], [tensor.name]))
        dims: list[int | str] = [BATCH, *tensor.shape[1:]]
        return helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, dims)


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's SAME padding along one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _window(
    c: _Converter, op: TfliteOperator, kernel: tuple[int, int], dilation: tuple[int, int]
) -> dict[str, Any]:
    """Conv/pool attributes: strides, dilations and explicit pads for ``op``'s padding."""
    _, height, width, _ = c.shape(op.inputs[0])
    strides = (int(op.options["stride_h"]), int(op.options["stride_w"]))
    if op.options["padding"] == "SAME":
        top, bottom = same_pads(height, kernel[0], strides[0], dilation[0])
        left, right = same_pads(width, kernel[1], strides[1], dilation[1])
    else:
        top = bottom = left = right = 0
    return {"strides": list(strides), "pads": [top, left, bottom, right]}


def _conv(c: _Converter, op: TfliteOperator, depthwise: bool) -> None:
    weights = c.float_const(op.inputs[1])  # OHWI, or 1HW(C*M) for depthwise
    in_channels = c.shape(op.inputs[0])[3]
    kernel = (int(weights.shape[1]), int(weights.shape[2]))
    dilation = (int(op.options["dilation_h"]), int(op.options["dilation_w"]))
    attrs = _window(c, op, kernel, dilation)
    if depthwise:
        weights, group = weights.transpose(3, 0, 1, 2), in_channels
    else:
        weights, group = weights.transpose(TO_NCHW), 1
        if weights.shape[1] != in_channels:
            raise ModelConversionError(f"CONV_2D weights {weights.shape} vs {in_channels} channels")
    inputs = [c.value(op.inputs[0], True), c.const("w", weights)]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        inputs.append(c.const("b", c.float_const(op.inputs[2])))
    out = c.node("Conv", inputs, "conv", group=group, dilations=list(dilation), **attrs)
    c.set(op, c.activation(out, op.options["activation"]), True)


def _pool(c: _Converter, op: TfliteOperator, onnx_op: str) -> None:
    kernel = (int(op.options["filter_h"]), int(op.options["filter_w"]))
    attrs = _window(c, op, kernel, (1, 1))
    if onnx_op == "AveragePool":
        attrs["count_include_pad"] = 0
    out = c.node(onnx_op, [c.value(op.inputs[0], True)], "pool", kernel_shape=list(kernel), **attrs)
    c.set(op, c.activation(out, op.options["activation"]), True)


def _aligned_const(c: _Converter, index: int, nchw: bool) -> str:
    """A constant operand, broadcast-aligned to rank 4 and permuted when ``nchw``."""
    data = c.const_of(index)
    if nchw:
        if data.ndim > 4:
            raise ModelConversionError("element-wise constant of rank > 4")
        data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(TO_NCHW)
    return c.const("k", data)


def _binary(c: _Converter, op: TfliteOperator, onnx_op: str) -> None:
    a, b = op.inputs[:2]
    nchw = c.is_nchw(a) or c.is_nchw(b)
    names = [
        _aligned_const(c, i, nchw) if c.constant(i) is not None else c.value(i, nchw)
        for i in (a, b)
    ]
    out = c.node(onnx_op, names, onnx_op.lower())
    c.set(op, c.activation(out, op.options.get("activation", "NONE")), nchw)


def _unary(onnx_op: str) -> Callable[[_Converter, TfliteOperator], None]:
    def lower(c: _Converter, op: TfliteOperator) -> None:
        index = op.inputs[0]
        nchw = c.is_nchw(index)
        c.set(op, c.node(onnx_op, [c.value(index, None)], onnx_op.lower()), nchw)

    return lower


def _relu6(c: _Converter, op: TfliteOperator) -> None:
    index = op.inputs[0]
    c.set(op, c.activation(c.value(index, None), "RELU6"), c.is_nchw(index))


def _dequantize(c: _Converter, op: TfliteOperator) -> None:
    tensor = c.graph.tensors[op.inputs[0]]
    data = c.const_of(op.inputs[0])
    if data.dtype == np.float16:
        c.folded[op.outputs[0]] = data.astype(np.float32)
        return
    if tensor.scale is None or tensor.zero_point is None or len(tensor.scale) != 1:
        raise ModelConversionError(f"DEQUANTIZE of {tensor.name!r}: only per-tensor scales")
    real = (data.astype(np.float32) - float(tensor.zero_point[0])) * float(tensor.scale[0])
    c.folded[op.outputs[0]] = real.astype(np.float32)


def _pad(c: _Converter, op: TfliteOperator) -> None:
    pads = c.const_of(op.inputs[1]).astype(np.int64).reshape(-1, 2)
    nchw = c.is_nchw(op.inputs[0]) and len(pads) == 4
    if nchw:
        pads = pads[list(TO_NCHW)]
    inputs = [c.value(op.inputs[0], nchw), c.const("pads", pads.T.reshape(-1))]
    c.set(op, c.node("Pad", inputs, "pad", mode="constant"), nchw)


def _concat(c: _Converter, op: TfliteOperator) -> None:
    rank = len(c.shape(op.outputs[0]))
    axis = int(op.options["axis"]) % rank
    nchw = rank == 4 and any(c.is_nchw(i) for i in op.inputs)
    onnx_axis = NHWC_AXIS_IN_NCHW[axis] if nchw else axis
    names = [c.value(i, nchw) for i in op.inputs]
    out = c.node("Concat", names, "concat", axis=onnx_axis)
    c.set(op, c.activation(out, op.options["activation"]), nchw)


def _reshape(c: _Converter, op: TfliteOperator) -> None:
    source, target = c.shape(op.inputs[0]), list(c.shape(op.outputs[0]))
    if not source or not target or source[0] != target[0]:
        raise ModelConversionError(f"RESHAPE {source} -> {target} changes the batch dimension")
    target[0] = 0  # copy the (dynamic) batch
    inputs = [c.value(op.inputs[0], False), c.const("shape", np.array(target, np.int64))]
    c.set(op, c.node("Reshape", inputs, "reshape"), False)


def _resize_bilinear(c: _Converter, op: TfliteOperator) -> None:
    _, height, width, _ = c.shape(op.inputs[0])
    out_h, out_w = (int(v) for v in c.const_of(op.inputs[1]))
    scales = np.array([1.0, 1.0, out_h / height, out_w / width], np.float32)
    if bool(op.options["align_corners"]):
        mode = "align_corners"
    elif bool(op.options["half_pixel_centers"]):
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    inputs = [c.value(op.inputs[0], True), "", c.const("scales", scales)]
    out = c.node("Resize", inputs, "resize", mode="linear", coordinate_transformation_mode=mode)
    c.set(op, out, True)


LOWERINGS: dict[str, Callable[[_Converter, TfliteOperator], None]] = {
    "CONV_2D": lambda c, op: _conv(c, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda c, op: _conv(c, op, depthwise=True),
    "MAX_POOL_2D": lambda c, op: _pool(c, op, "MaxPool"),
    "AVERAGE_POOL_2D": lambda c, op: _pool(c, op, "AveragePool"),
    "ADD": lambda c, op: _binary(c, op, "Add"),
    "SUB": lambda c, op: _binary(c, op, "Sub"),
    "MUL": lambda c, op: _binary(c, op, "Mul"),
    "ABS": _unary("Abs"),
    "RELU": _unary("Relu"),
    "LOGISTIC": _unary("Sigmoid"),
    "TANH": _unary("Tanh"),
    "RELU6": _relu6,
    "DEQUANTIZE": _dequantize,
    "PAD": _pad,
    "CONCATENATION": _concat,
    "RESHAPE": _reshape,
    "RESIZE_BILINEAR": _resize_bilinear,
}


def build_onnx(
    graph: TfliteGraph, input_layout: InputLayout = "nhwc", doc: str = ""
) -> onnx.ModelProto:
    """The ONNX model (opset 17, dynamic batch) computing what ``graph`` computes."""
    if input_layout not in ("nhwc", "nchw"):
        raise ValueError(f"input_layout must be 'nhwc' or 'nchw', not {input_layout!r}")
    onnx_graph = _Converter(graph, input_layout).run()
    model = helper.make_model(
        onnx_graph,
        producer_name="facegate",
        doc_string=doc,
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
