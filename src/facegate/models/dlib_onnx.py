"""Build ONNX graphs equivalent to dlib's networks from parsed :mod:`dlib_format` records.

Two graphs come out:

* the embedder (:func:`build_embedder`): input ``chips``, uint8 ``(N, 150, 150, 3)`` RGB, NHWC,
  dynamic batch; dlib's input layer (``(pixel - channel mean) / 256``, means read from the
  file) runs inside the graph; output ``embedding``, float32 ``(N, 128)``, *not* normalised
  (dlib does not normalise it either).
* the MMOD detector (:func:`build_mmod`): input ``pyramid``, float32 ``(N, 3, H, W)``, the tiled
  image pyramid already normalised the way dlib's ``input_rgb_image_pyramid`` does it (see
  :mod:`facegate.models.onnx_runtime`); output ``scores``, float32 ``(N, windows, H', W')``.

Layer mapping: ``con`` -> Conv (with the following ``affine``/``bn_con`` folded into its
weights), ``relu`` -> Relu, ``max_pool``/``avg_pool`` -> MaxPool/AveragePool (or the global
forms for ``*_everything``), ``fc`` -> Flatten + MatMul (+ Add), ``add_prev`` -> Add, after
zero-padding the smaller operand at the end of each axis (dlib adds tensors of different
shapes as if the missing elements were 0).

The file does not say which ``tag_or_skip`` record is a tag and which a skip, nor which tag an
``add_prev`` adds (see :mod:`dlib_format`). They are resolved the way dlib's residual blocks
are written (``add_prev1<block<tag1<x>>>`` and
``add_prev2<avg_pool<skip1<tag2<block<tag1<x>>>>>>``): a marker after a non-marker is a tag;
a marker right after another marker is a skip back to the tag before the newest one;
``add_prev`` adds the newest live tag. Agreement with dlib is checked numerically by
:func:`facegate.models.onnx_runtime.verify_against_dlib` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelConversionError
from facegate.models.dlib_format import DlibNetwork, LayerRecord
from facegate.types import FloatArray

OPSET = 17
IR_VERSION = 8


@dataclass(frozen=True, slots=True)
class _Value:
    """A tensor in the graph: its name, channels and (when static) spatial size."""

    name: str
    channels: int
    height: int | None
    width: int | None


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array: np.ndarray) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _affine_of(record: LayerRecord) -> tuple[FloatArray, FloatArray]:
    """Per-channel ``(scale, shift)`` of an ``affine`` or ``bn_con`` record at inference.

    ``bn_con`` becomes what dlib's ``affine_(const bn_&)`` computes (layers.h):
    ``g = gamma / sqrt(running_var + eps)``, ``b = beta - g * running_mean``.
    """
    gamma = record.tensors["gamma"].reshape(-1)
    beta = record.tensors["beta"].reshape(-1)
    if record.kind == "affine":
        if record.params["mode"] != 0:
            raise ModelConversionError("affine in fc mode is not supported")
        if record.params["disabled"]:
            return np.ones_like(gamma), np.zeros_like(beta)
        return gamma, beta
    if record.kind != "bn_con":
        raise ModelConversionError(f"cannot fold a {record.kind} layer")
    var = record.tensors["running_variances"].reshape(-1)
    mean = record.tensors["running_means"].reshape(-1)
    scale = (gamma / np.sqrt(var + np.float32(record.params["eps"]))).astype(np.float32)
    return scale, (beta - scale * mean).astype(np.float32)


def _out_size(size: int | None, kernel: int, stride: int, pad: int) -> int | None:
    return None if size is None else (size + 2 * pad - kernel) // stride + 1


def _conv(b: _GraphBuilder, x: _Value, con: LayerRecord, affine: LayerRecord | None) -> _Value:
    p = con.params
    weights = con.tensors["filters"].astype(np.float32)
    bias = con.tensors.get("bias", np.zeros(p["num_filters"], np.float32)).astype(np.float32)
    if affine is not None:
        scale, shift = _affine_of(affine)
        weights = weights * scale[:, None, None, None]
        bias = bias * scale + shift
    k_h, k_w = weights.shape[2], weights.shape[3]
    pads = [p["padding_y"], p["padding_x"], p["padding_y"], p["padding_x"]]
    name = b.node(
        "Conv",
        [x.name, b.const("W", weights), b.const("B", bias.astype(np.float32))],
        "conv",
        kernel_shape=[k_h, k_w],
        strides=[p["stride_y"], p["stride_x"]],
        pads=pads,
    )
    if p["use_relu"]:
        name = b.node("Relu", [name], "relu")
    return _Value(
        name,
        int(p["num_filters"]),
        _out_size(x.height, k_h, p["stride_y"], p["padding_y"]),
        _out_size(x.width, k_w, p["stride_x"], p["padding_x"]),
    )


def _pool(b: _GraphBuilder, x: _Value, rec: LayerRecord) -> _Value:
    p = rec.params
    if p["padding_y"] or p["padding_x"]:
        raise ModelConversionError("pooling with padding is not supported")
    op = "MaxPool" if rec.kind == "max_pool" else "AveragePool"
    if p["nr"] == 0 and p["nc"] == 0:
        return _Value(b.node("Global" + op, [x.name], "gpool"), x.channels, 1, 1)
    if p["nr"] == 0 or p["nc"] == 0:
        raise ModelConversionError("pooling over a whole axis only is not supported")
    name = b.node(
        op,
        [x.name],
        "pool",
        kernel_shape=[p["nr"], p["nc"]],
        strides=[p["stride_y"], p["stride_x"]],
    )
    return _Value(
        name,
        x.channels,
        _out_size(x.height, p["nr"], p["stride_y"], 0),
        _out_size(x.width, p["nc"], p["stride_x"], 0),
    )


def _pad_to(b: _GraphBuilder, x: _Value, channels: int, height: int, width: int) -> str:
    extra = (channels - x.channels, height - (x.height or 0), width - (x.width or 0))
    if extra == (0, 0, 0):
        return x.name
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
    return b.node("Pad", [x.name, b.const("pads", pads)], "pad", mode="constant")


def _add(b: _GraphBuilder, x: _Value, y: _Value) -> _Value:
    same_size = (x.height, x.width) == (y.height, y.width)
    if not same_size and None in (x.height, x.width, y.height, y.width):
        raise ModelConversionError("add_prev of tensors with unknown, different sizes")
    c = max(x.channels, y.channels)
    h = None if x.height is None or y.height is None else max(x.height, y.height)
    w = None if x.width is None or y.width is None else max(x.width, y.width)
    if h is None or w is None:
        if x.channels != y.channels:
            raise ModelConversionError("add_prev with channel padding needs static sizes")
        return _Value(b.node("Add", [x.name, y.name], "add"), c, h, w)
    name = b.node("Add", [_pad_to(b, x, c, h, w), _pad_to(b, y, c, h, w)], "add")
    return _Value(name, c, h, w)


def _fc(b: _GraphBuilder, x: _Value, rec: LayerRecord) -> _Value:
    flat = b.node("Flatten", [x.name], "flatten", axis=1)
    out = b.node("MatMul", [flat, b.const("fcW", rec.tensors["weights"])], "fc")
    if "bias" in rec.tensors:
        out = b.node("Add", [out, b.const("fcB", rec.tensors["bias"])], "fcb")
    return _Value(out, int(rec.params["num_outputs"]), 1, 1)


_FOLDABLE = ("affine", "bn_con")


def _emit_layers(b: _GraphBuilder, x: _Value, layers: list[LayerRecord]) -> _Value:
    tags: list[_Value] = []
    prev_marker = False
    i = 0
    while i < len(layers):
        rec = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if rec.kind == "tag_or_skip":
            if not prev_marker:
                tags.append(x)
            else:
                if len(tags) < 2:
                    raise ModelConversionError("skip layer with no earlier tag")
                x = tags.pop(-2)
            prev_marker = True
            i += 1
            continue
        prev_marker = False
        if rec.kind == "con":
            fold = nxt if nxt is not None and nxt.kind in _FOLDABLE else None
            x = _conv(b, x, rec, fold)
            i += 2 if fold is not None else 1
            continue
        if rec.kind in _FOLDABLE:
            scale, shift = _affine_of(rec)
            mul = b.node("Mul", [x.name, b.const("g", scale.reshape(1, -1, 1, 1))], "mul")
            added = b.node("Add", [mul, b.const("b", shift.reshape(1, -1, 1, 1))], "aff")
            x = _Value(added, x.channels, x.height, x.width)
        elif rec.kind == "relu":
            if not rec.params["disabled"]:
                x = _Value(b.node("Relu", [x.name], "relu"), x.channels, x.height, x.width)
        elif rec.kind in ("max_pool", "avg_pool"):
            x = _pool(b, x, rec)
        elif rec.kind == "add_prev":
            if not tags:
                raise ModelConversionError("add_prev with no tag to add")
            x = _add(b, x, tags.pop())
        elif rec.kind == "fc":
            x = _fc(b, x, rec)
        else:
            raise ModelConversionError(f"no ONNX mapping for dlib layer {rec.kind!r}")
        i += 1
    return x


def _model(
    b: _GraphBuilder,
    name: str,
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    doc: str,
) -> onnx.ModelProto:
    graph = helper.make_graph(b.nodes, name, inputs, outputs, initializer=b.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facegate",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def build_embedder(net: DlibNetwork) -> onnx.ModelProto:
    """The face embedder: uint8 NHWC RGB chips in, raw 128-d descriptors out."""
    inp = net.input
    if inp.kind != "input_rgb_image_sized":
        raise ModelConversionError(f"embedder input must be input_rgb_image_sized, not {inp.kind}")
    size_h, size_w = int(inp.params["nr"]), int(inp.params["nc"])
    b = _GraphBuilder()
    means = np.array(
        [inp.params["avg_red"], inp.params["avg_green"], inp.params["avg_blue"]], np.float32
    )
    as_float = b.node("Cast", ["chips"], "cast", to=TensorProto.FLOAT)
    centred = b.node("Sub", [as_float, b.const("mean", means)], "centre")
    scaled = b.node("Mul", [centred, b.const("inv256", np.array(1 / 256, np.float32))], "scale")
    nchw = b.node("Transpose", [scaled], "nchw", perm=[0, 3, 1, 2])
    out = _emit_layers(b, _Value(nchw, 3, size_h, size_w), net.layers)
    b.nodes.append(helper.make_node("Identity", [out.name], ["embedding"], name="embedding"))
    return _model(
        b,
        "dlib_face_recognition_resnet",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["N", size_h, size_w, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", out.channels])],
        "dlib face recognition ResNet converted by facegate; output is not normalised.",
    )


def build_mmod(net: DlibNetwork) -> onnx.ModelProto:
    """The MMOD detector's convolutional part: normalised tiled pyramid in, score map out."""
    if net.input.kind != "input_rgb_image_pyramid" or net.loss.kind != "loss_mmod":
        raise ModelConversionError("not an MMOD network over input_rgb_image_pyramid")
    b = _GraphBuilder()
    out = _emit_layers(b, _Value("pyramid", 3, None, None), net.layers)
    b.nodes.append(helper.make_node("Identity", [out.name], ["scores"], name="scores"))
    return _model(
        b,
        "dlib_mmod_face_detector",
        [helper.make_tensor_value_info("pyramid", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", out.channels, "h", "w"])],
        "dlib MMOD face detector (convolutional part) converted by facegate.",
    )


def output_to_input_map(net: DlibNetwork) -> tuple[float, float, float, float]:
    """``(scale_x, offset_x, scale_y, offset_y)`` mapping a score-map cell to pyramid pixels.

    dlib composes each layer's ``map_output_to_input`` (``p * stride - padding + size / 2``
    with integer ``size / 2`` for con and pooling layers, identity for the rest) from the top
    layer down (``output_tensor_to_input_tensor`` in dnn/visitors.h).
    """
    sx, ox, sy, oy = 1.0, 0.0, 1.0, 0.0
    for rec in reversed(net.layers):
        if rec.kind in ("con", "max_pool", "avg_pool"):
            p = rec.params
            k_h = rec.tensors["filters"].shape[2] if rec.kind == "con" else p["nr"]
            k_w = rec.tensors["filters"].shape[3] if rec.kind == "con" else p["nc"]
            ox = ox * p["stride_x"] - p["padding_x"] + k_w // 2
            sx *= p["stride_x"]
            oy = oy * p["stride_y"] - p["padding_y"] + k_h // 2
            sy *= p["stride_y"]
    return sx, ox, sy, oy


def min_input_size(net: DlibNetwork) -> int:
    """The smallest input side for which every layer's output is at least one cell."""
    size = 1
    for rec in reversed(net.layers):
        if rec.kind == "con":
            kernel = int(rec.tensors["filters"].shape[2])
        elif rec.kind in ("max_pool", "avg_pool") and rec.params["nr"]:
            kernel = int(rec.params["nr"])
        else:
            continue
        stride, pad = int(rec.params["stride_y"]), int(rec.params["padding_y"])
        size = max(1, (size - 1) * stride + kernel - 2 * pad)
    return size
