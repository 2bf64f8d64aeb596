"""Each TFLite operator's ONNX lowering against a numpy reference of TFLite's semantics.

The graphs are built in memory (:mod:`tflite_graphs`), so these tests need neither a .tflite
file nor a TFLite runtime; agreement on the real models is in ``test_tflite_models.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite_graphs import GraphBuilder, conv_reference, run_onnx, tf_same_pads

from facegate.errors import ModelConversionError
from facegate.models.tflite_format import TfliteOperator
from facegate.models.tflite_onnx import build_onnx, same_pads

RNG = np.random.default_rng(7)


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def test_same_pads_hand_computed() -> None:
    assert same_pads(112, 3, 2, 1) == (0, 1)  # out 56: 55 * 2 + 3 - 112 = 1, odd pixel after
    assert same_pads(5, 3, 1, 1) == (1, 1)
    assert same_pads(4, 2, 2, 1) == (0, 0)
    assert same_pads(7, 3, 1, 2) == (2, 2)
    assert same_pads(9, 5, 2, 1) == tf_same_pads(9, 5, 2) == (2, 2)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation", "activation"),
    [
        (9, 3, 1, "SAME", 1, "NONE"),
        (10, 3, 2, "SAME", 1, "RELU"),
        (9, 5, 2, "VALID", 1, "RELU6"),
        (8, 3, 1, "SAME", 2, "NONE"),
        (7, 1, 1, "VALID", 1, "TANH"),
    ],
)
def test_conv2d(
    size: int, kernel: int, stride: int, padding: str, dilation: int, activation: str
) -> None:
    g = GraphBuilder()
    x, w, b = _x(2, size, size, 3), _x(4, kernel, kernel, 3), _x(4)
    inp = g.tensor(x.shape)
    ref = conv_reference(x, w, b, stride, padding == "SAME", dilation)
    ref = {"NONE": ref, "RELU": np.maximum(ref, 0), "RELU6": np.clip(ref, 0, 6)}.get(
        activation, np.tanh(ref)
    )
    out = g.op(
        "CONV_2D",
        [inp, g.tensor(w.shape, w), g.tensor(b.shape, b)],
        ref.shape,
        padding=padding,
        stride_w=stride,
        stride_h=stride,
        dilation_w=dilation,
        dilation_h=dilation,
        activation=activation,
    )
    (got,) = run_onnx(g.build([inp], [out]), x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("stride", "multiplier"), [(1, 1), (2, 1), (1, 2)])
def test_depthwise_conv2d(stride: int, multiplier: int) -> None:
    g = GraphBuilder()
    x, w, b = _x(1, 9, 9, 3), _x(1, 3, 3, 3 * multiplier), _x(3 * multiplier)
    inp = g.tensor(x.shape)
    ref = conv_reference(x, w, b, stride, True, depthwise=True)
    out = g.op(
        "DEPTHWISE_CONV_2D",
        [inp, g.tensor(w.shape, w), g.tensor(b.shape, b)],
        ref.shape,
        stride_w=stride,
        stride_h=stride,
        depth_multiplier=multiplier,
    )
    (got,) = run_onnx(g.build([inp], [out]), x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_max_pool_same_ignores_padding_and_average_pool_counts_only_real_cells() -> None:
    x = _x(1, 5, 5, 2) - 10.0  # all negative: zero padding would show up in a max
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    opts = {"padding": "SAME", "stride_w": 2, "stride_h": 2, "filter_w": 2, "filter_h": 2}
    mx = g.op("MAX_POOL_2D", [inp], (1, 3, 3, 2), **opts)
    av = g.op("AVERAGE_POOL_2D", [inp], (1, 3, 3, 2), **opts)
    got_max, got_avg = run_onnx(g.build([inp], [mx, av]), x)
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=np.nan)
    cells = np.stack([padded[:, i::2, j::2][:, :3, :3] for i in (0, 1) for j in (0, 1)])
    np.testing.assert_allclose(got_max, np.nanmax(cells, axis=0), rtol=1e-6)
    np.testing.assert_allclose(got_avg, np.nanmean(cells, axis=0), rtol=1e-5)


def test_prelu_as_tflite_writes_it_with_channel_constants() -> None:
    # MobileFaceNet's PReLU: relu(x) + alpha * (x - |x|), alpha of shape (C,).
    x, alpha = _x(2, 4, 4, 3), np.array([0.1, 0.2, 0.3], np.float32)
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    w = np.eye(3, dtype=np.float32).reshape(3, 1, 1, 3)
    conv = g.op(
        "CONV_2D", [inp, g.tensor(w.shape, w), -1], x.shape, padding="VALID", stride_w=1, stride_h=1
    )
    relu = g.op("RELU", [conv], x.shape)
    ab = g.op("ABS", [conv], x.shape)
    sub = g.op("SUB", [conv, ab], x.shape)
    mul = g.op("MUL", [g.tensor((3,), alpha), sub], x.shape)
    add = g.op("ADD", [relu, mul], x.shape, activation="RELU6")
    (got,) = run_onnx(g.build([inp], [add]), x)
    ref = np.clip(np.maximum(x, 0) + alpha * (x - np.abs(x)), 0, 6)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_pad_concat_reshape_keep_tflite_layout() -> None:
    x = _x(2, 3, 3, 2)
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    w = np.eye(2, dtype=np.float32).reshape(2, 1, 1, 2)
    conv = g.op(
        "CONV_2D", [inp, g.tensor(w.shape, w), -1], x.shape, padding="VALID", stride_w=1, stride_h=1
    )  # the conv output is held NCHW inside the graph
    pads = np.array([[0, 0], [0, 0], [0, 0], [0, 3]], np.int32)
    padded = g.op("PAD", [conv, g.tensor((4, 2), pads, "int32")], (2, 3, 3, 5))
    cat = g.op("CONCATENATION", [padded, conv], (2, 3, 3, 7), axis=3)
    flat = g.op("RESHAPE", [cat], (2, 9, 7))
    tail = g.op("CONCATENATION", [flat, flat], (2, 18, 7), axis=-2)
    got_cat, got_tail = run_onnx(g.build([inp], [cat, tail]), x)
    ref_cat = np.concatenate([np.pad(x, ((0, 0), (0, 0), (0, 0), (0, 3))), x], axis=3)
    np.testing.assert_allclose(got_cat, ref_cat, rtol=1e-6)
    ref_flat = ref_cat.reshape(2, 9, 7)
    np.testing.assert_allclose(got_tail, np.concatenate([ref_flat, ref_flat], axis=1), rtol=1e-6)


def _tf_resize_half_pixel(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TensorFlow's bilinear resize with half_pixel_centers, from its kernel's formulas."""

    def axis(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
        low = np.floor(pos)
        frac = pos - low
        lo = np.clip(low, 0, size_in - 1).astype(int)
        hi = np.clip(low + 1, 0, size_in - 1).astype(int)
        return lo, hi, frac

    ylo, yhi, fy = axis(x.shape[1], out_h)
    xlo, xhi, fx = axis(x.shape[2], out_w)
    top = (
        x[:, ylo][:, :, xlo] * (1 - fx)[None, None, :, None]
        + x[:, ylo][:, :, xhi] * fx[None, None, :, None]
    )
    bot = (
        x[:, yhi][:, :, xlo] * (1 - fx)[None, None, :, None]
        + x[:, yhi][:, :, xhi] * fx[None, None, :, None]
    )
    return top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]


def test_resize_bilinear_half_pixel() -> None:
    x = _x(1, 3, 4, 2)
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    size = g.tensor((2,), [6, 8], "int32")
    out = g.op("RESIZE_BILINEAR", [inp, size], (1, 6, 8, 2), half_pixel_centers=True)
    (got,) = run_onnx(g.build([inp], [out]), x)
    np.testing.assert_allclose(got, _tf_resize_half_pixel(x, 6, 8), rtol=1e-5, atol=1e-6)


def test_dequantize_of_float16_weights_is_folded() -> None:
    x, w = _x(1, 4, 4, 2), _x(3, 1, 1, 2).astype(np.float16)
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    w16 = g.tensor(w.shape, w, "float16")
    w32 = g.op("DEQUANTIZE", [w16], w.shape)
    out = g.op("CONV_2D", [inp, w32, -1], (1, 4, 4, 3), padding="VALID", stride_w=1, stride_h=1)
    model = build_onnx(g.build([inp], [out]))
    assert "DequantizeLinear" not in {n.op_type for n in model.graph.node}
    (got,) = run_onnx(g.build([inp], [out]), x)
    ref = x @ w.astype(np.float32)[:, 0, 0, :].T
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_unary_ops_and_logistic() -> None:
    x = _x(3, 5)
    g = GraphBuilder()
    inp = g.tensor(x.shape)
    sig = g.op("LOGISTIC", [inp], x.shape)
    r6 = g.op("RELU6", [g.op("MUL", [inp, g.tensor((), 10.0)], x.shape)], x.shape)
    got_sig, got_r6 = run_onnx(g.build([inp], [sig, r6]), x)
    np.testing.assert_allclose(got_sig, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(got_r6, np.clip(10 * x, 0, 6), rtol=1e-6)


def test_batch_is_dynamic_and_nchw_input_layout() -> None:
    g = GraphBuilder()
    inp = g.tensor((2, 6, 6, 3))  # the file fixes batch 2
    w, b = _x(8, 3, 3, 3), _x(8)
    conv = g.op(
        "CONV_2D",
        [inp, g.tensor(w.shape, w), g.tensor(b.shape, b)],
        (2, 3, 3, 8),
        padding="SAME",
        stride_w=2,
        stride_h=2,
    )
    flat = g.op("RESHAPE", [conv], (2, 72))
    graph = g.build([inp], [flat])
    model = build_onnx(graph, "nchw")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [3, 6, 6]
    x = _x(5, 6, 6, 3)
    ref = conv_reference(x, w, b, 2, True).reshape(5, 72)
    for layout in ("nhwc", "nchw"):
        (got,) = run_onnx(graph, x, layout)  # type: ignore[arg-type]
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_unsupported_operator_and_non_constant_weights_are_refused() -> None:
    g = GraphBuilder()
    inp = g.tensor((1, 4))
    out = g.op("SOFTMAX", [inp], (1, 4))
    with pytest.raises(ModelConversionError, match="SOFTMAX"):
        build_onnx(g.build([inp], [out]))
    g = GraphBuilder()
    inp, w = g.tensor((1, 4, 4, 2)), g.tensor((2, 1, 1, 2))
    out = g.op("CONV_2D", [inp, w, -1], (1, 4, 4, 2), padding="VALID", stride_w=1, stride_h=1)
    with pytest.raises(ModelConversionError, match="must be a constant"):
        build_onnx(g.build([inp, w], [out]))


def test_reshape_across_the_batch_is_refused() -> None:
    g = GraphBuilder()
    inp = g.tensor((2, 3))
    out = g.op("RESHAPE", [inp], (6,))
    with pytest.raises(ModelConversionError, match="batch"):
        build_onnx(g.build([inp], [out]))


def test_operator_options_are_read_only() -> None:
    op = GraphBuilder()
    op.tensor((1,))
    idx = op.op("ADD", [0, 0], (1,))
    built: TfliteOperator = op.build([0], [idx]).operators[0]
    with pytest.raises(TypeError):
        built.options["activation"] = "RELU"  # type: ignore[index]
