"""The dlib serialize-format reader: primitive encodings and both shipped network files."""

from __future__ import annotations

import math
import struct
from collections import Counter

import numpy as np
import pytest

from facegate.errors import ModelConversionError
from facegate.models.dlib_format import (
    DlibNetwork,
    DlibReader,
    encode_float,
    encode_int,
    encode_string,
    parse_network,
    read_network,
)
from facegate.models.files import model_path

EMBEDDER = "dlib_face_recognition_resnet_model_v1.dat"
MMOD = "mmod_human_face_detector.dat"


@pytest.fixture(scope="module")
def embedder_net() -> DlibNetwork:
    return read_network(model_path(EMBEDDER))


@pytest.fixture(scope="module")
def mmod_net() -> DlibNetwork:
    return read_network(model_path(MMOD))


# --- primitive encodings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"\x01\x00", 0),
        (b"\x01\x02", 2),
        (b"\x81\x04", -4),
        (b"\x02\xc0\x04", 1216),
        (b"\x81\x1c", -28),
        (b"\x08\xff\xff\xff\xff\xff\xff\xff\x7f", 2**63 - 1),
    ],
)
def test_integers_decode_from_hand_made_bytes(raw: bytes, value: int) -> None:
    reader = DlibReader(raw)
    assert reader.read_int() == value
    assert reader.pos == len(raw)
    assert encode_int(value) == raw


def test_floats_decode_from_bytes_taken_from_the_embedder_file() -> None:
    # loss_metric_2's margin (0.04f) and distance threshold (0.6f): mantissa, then exponent.
    margin = DlibReader(b"\x03\x0a\xd7\xa3\x81\x1c").read_float()
    assert margin == 0xA3D70A * 2.0**-28 == float(np.float32(0.04))
    threshold = DlibReader(b"\x03\x9a\x99\x99\x81\x18").read_float()
    assert threshold == float(np.float32(0.6))


@pytest.mark.parametrize(
    "value", [0.0, 1.0, -1.0, 0.04, -122.782, 1e-300, 3.4e38, float(np.float32(0.6)), math.pi]
)
def test_float_encoding_round_trips(value: float) -> None:
    assert DlibReader(encode_float(value)).read_float() == value


def test_special_floats_round_trip() -> None:
    assert DlibReader(encode_float(math.inf)).read_float() == math.inf
    assert DlibReader(encode_float(-math.inf)).read_float() == -math.inf
    assert math.isnan(DlibReader(encode_float(math.nan)).read_float())


def test_strings_bools_and_tensors() -> None:
    floats = np.arange(6, dtype="<f4")
    raw = (
        encode_string("con_4")
        + b"10"
        + encode_int(2)
        + b"".join(encode_int(d) for d in (1, 2, 3, 1))
        + floats.tobytes()
    )
    reader = DlibReader(raw)
    assert reader.read_string() == "con_4"
    assert reader.read_bool() is True
    assert reader.read_bool() is False
    np.testing.assert_array_equal(reader.read_tensor(), floats.reshape(1, 2, 3, 1))
    assert reader.pos == len(raw)


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\x09" + bytes(9), b"\x02\x01"])
def test_bad_or_truncated_integers_raise(raw: bytes) -> None:
    with pytest.raises(ModelConversionError):
        DlibReader(raw).read_int()


def test_garbage_is_not_a_network() -> None:
    with pytest.raises(ModelConversionError, match="dlib"):
        parse_network(b"\x01\x02hello")


def test_unknown_layer_is_named_in_the_error() -> None:
    raw = encode_int(1) + encode_string("loss_fancy_")
    with pytest.raises(ModelConversionError, match="loss_fancy_"):
        parse_network(raw)


def test_truncated_network_raises() -> None:
    data = model_path(MMOD).read_bytes()
    with pytest.raises(ModelConversionError, match="end of data"):
        parse_network(data[: len(data) // 2])


# --- the shipped networks -------------------------------------------------------------------


def test_embedder_layers(embedder_net: DlibNetwork) -> None:
    kinds = Counter(layer.kind for layer in embedder_net.layers)
    assert len(embedder_net.layers) == 130
    assert kinds == {
        "con": 29,
        "affine": 29,
        "relu": 29,
        "tag_or_skip": 22,
        "add_prev": 14,
        "avg_pool": 5,
        "max_pool": 1,
        "fc": 1,
    }
    first = embedder_net.layers[0]
    assert first.kind == "con"
    assert first.tensors["filters"].shape == (32, 3, 7, 7)
    assert first.tensors["bias"].shape == (32,)
    assert (first.params["stride_y"], first.params["padding_y"]) == (2, 0)
    assert embedder_net.layers[3].params == {
        "nr": 3,
        "nc": 3,
        "stride_y": 2,
        "stride_x": 2,
        "padding_y": 0,
        "padding_x": 0,
    }
    fc = embedder_net.layers[-1]
    assert fc.tensors["weights"].shape == (256, 128)
    assert fc.params["use_bias"] is False and "bias" not in fc.tensors
    assert embedder_net.layers[-2].params["nr"] == 0  # avg_pool_everything
    filters = [
        layer.tensors["filters"].shape for layer in embedder_net.layers if layer.kind == "con"
    ]
    assert filters[-1] == (256, 256, 3, 3)


def test_embedder_input_and_loss(embedder_net: DlibNetwork) -> None:
    inp = embedder_net.input
    assert inp.kind == "input_rgb_image_sized"
    assert (inp.params["nr"], inp.params["nc"]) == (150, 150)
    means = (inp.params["avg_red"], inp.params["avg_green"], inp.params["avg_blue"])
    assert means == tuple(float(np.float32(v)) for v in (122.782, 117.001, 104.298))
    assert embedder_net.loss.kind == "loss_metric"
    assert embedder_net.loss.params["margin"] == pytest.approx(0.04)
    assert embedder_net.loss.params["distance_threshold"] == pytest.approx(0.6)


def test_embedder_affine_layers_hold_per_channel_scales(embedder_net: DlibNetwork) -> None:
    affine = embedder_net.layers[1]
    assert affine.kind == "affine" and affine.params["mode"] == 0  # CONV_MODE
    assert affine.tensors["gamma"].shape == affine.tensors["beta"].shape == (1, 32, 1, 1)
    assert np.all(np.isfinite(affine.tensors["gamma"]))


def test_mmod_layers(mmod_net: DlibNetwork) -> None:
    kinds = [layer.kind for layer in mmod_net.layers]
    assert kinds == ["con", "bn_con", "relu"] * 6 + ["con"]
    shapes = [layer.tensors["filters"].shape for layer in mmod_net.layers if layer.kind == "con"]
    assert shapes == [
        (16, 3, 5, 5),
        (32, 16, 5, 5),
        (32, 32, 5, 5),
        (45, 32, 5, 5),
        (45, 45, 5, 5),
        (45, 45, 5, 5),
        (1, 45, 9, 9),
    ]
    strides = [layer.params["stride_y"] for layer in mmod_net.layers if layer.kind == "con"]
    assert strides == [2, 2, 2, 1, 1, 1, 1]
    bn = mmod_net.layers[1]
    assert bn.params["eps"] == pytest.approx(1e-4)
    assert bn.tensors["running_variances"].shape == (1, 16, 1, 1)


def test_mmod_first_weight_matches_the_raw_file_bytes(mmod_net: DlibNetwork) -> None:
    data = model_path(MMOD).read_bytes()
    header = encode_string("con_4") + encode_int(2) + encode_int(1216) + encode_int(1) * 3
    start = data.index(header) + len(header)
    (first,) = struct.unpack("<f", data[start : start + 4])
    assert mmod_net.layers[0].tensors["filters"][0, 0, 0, 0] == np.float32(first)


def test_mmod_input_and_loss_options(mmod_net: DlibNetwork) -> None:
    inp = mmod_net.input.params
    assert mmod_net.input.kind == "input_rgb_image_pyramid"
    assert (inp["pyramid_padding"], inp["pyramid_outer_padding"]) == (10, 11)
    loss = mmod_net.loss.params
    assert loss["detector_windows"] == [(80, 80, "")]
    assert loss["overlaps_nms"][0] == pytest.approx(0.338276, abs=1e-6)
    assert loss["overlaps_nms"][1] == 1.0
    assert loss["use_bounding_box_regression"] is False
    assert loss["assume_image_pyramid"] is True
