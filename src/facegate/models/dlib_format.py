"""A reader for dlib's ``serialize`` format, enough to load its DNN files into numpy.

dlib writes a network as nested objects with no type tags: the loss layer first, then each
``add_layer`` writes its sub-network *before* its own layer, so the bytes run from the loss
down to the input layer and then back up through the layers. :func:`parse_network` undoes
that nesting and returns the layers bottom-up (input side first). ``docs/DLIB_FORMAT.md``
describes every encoding with the dlib source lines it comes from.

Tag and skip layers (``tag1``, ``skip1``...) write only a version number and their
sub-network, so the file cannot tell which is which, nor which tag an ``add_prev`` adds;
they come back as ``tag_or_skip`` records and :mod:`facegate.models.dlib_onnx` resolves them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ModelConversionError
from facegate.types import FloatArray

_FLOAT_INF, _FLOAT_NINF, _FLOAT_NAN = 32000, 32001, 32002


@dataclass(frozen=True, slots=True, eq=False)
class LayerRecord:
    """One layer as stored: ``kind`` (``con``, ``affine``, ``bn_con``, ``relu``, ``max_pool``,
    ``avg_pool``, ``fc``, ``add_prev``, ``tag_or_skip``, an input or a loss), the version string
    dlib wrote, scalar ``params`` and float32 ``tensors``."""

    kind: str
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, FloatArray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class DlibNetwork:
    """A parsed network: loss record, input record, and the layers between, bottom-up."""

    loss: LayerRecord
    input: LayerRecord
    layers: list[LayerRecord]


class DlibReader:
    """Reads dlib's primitive encodings from a byte buffer (see ``serialize.h``)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def fail(self, what: str) -> ModelConversionError:
        return ModelConversionError(f"dlib file: {what} at byte {self.pos}")

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"unexpected end of data reading {n} bytes")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def read_int(self) -> int:
        """A variable-length integer: control byte (0x80 = negative, low 4 bits = byte count)
        then the magnitude little-endian."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise self.fail(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def read_byte(self) -> int:
        """A ``char``/``uint8_t``: one raw byte."""
        return self._take(1)[0]

    def read_bool(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise self.fail(f"bad bool byte {ch!r}")
        return ch == b"1"

    def read_float(self) -> float:
        """A float/double: integer mantissa then integer exponent, value = m * 2**e."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.fail("old ASCII float format is not supported")
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _FLOAT_INF:
            return math.inf
        if exponent == _FLOAT_NINF:
            return -math.inf
        if exponent >= _FLOAT_NAN:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def read_string(self) -> str:
        size = self.read_int()
        if size < 0:
            raise self.fail("negative string length")
        return self._take(size).decode("latin-1")

    def read_tensor(self) -> FloatArray:
        """A ``resizable_tensor``: version 2, four dims, then raw little-endian float32."""
        version = self.read_int()
        if version != 2:
            raise self.fail(f"unexpected tensor version {version}")
        dims = tuple(self.read_int() for _ in range(4))
        count = int(np.prod(dims))
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: version 1 and four dims, no data."""
        version = self.read_int()
        if version != 1:
            raise self.fail(f"unexpected alias_tensor version {version}")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return (n, k, nr, nc)

    def peek_input_name(self) -> bool:
        """Whether a string naming an input layer (``input...``) starts here."""
        saved = self.pos
        try:
            size = self.read_int()
            return 5 <= size <= 64 and self.data[self.pos : self.pos + 5] == b"input"
        except ModelConversionError:
            return False
        finally:
            self.pos = saved


def encode_int(value: int) -> bytes:
    """dlib's integer encoding of ``value`` (the inverse of :meth:`DlibReader.read_int`)."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    if len(body) > 8:
        raise ValueError("dlib integers hold at most 8 bytes")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def encode_float(value: float) -> bytes:
    """dlib's encoding of a double (``float_details``, 53-bit mantissa, low zero bytes
    shifted off), the inverse of :meth:`DlibReader.read_float`."""
    if math.isnan(value):
        return encode_int(0) + encode_int(_FLOAT_NAN)
    if math.isinf(value):
        return encode_int(0) + encode_int(_FLOAT_INF if value > 0 else _FLOAT_NINF)
    frac, exp = math.frexp(value)
    mantissa, exponent = int(frac * (1 << 53)), exp - 53
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return encode_int(mantissa) + encode_int(exponent)


def encode_string(value: str) -> bytes:
    raw = value.encode("latin-1")
    return encode_int(len(raw)) + raw


# --- layer details -------------------------------------------------------------------------


def _read_con(r: DlibReader, version: str) -> LayerRecord:
    params = r.read_tensor().reshape(-1)
    p: dict[str, Any] = {"num_filters": r.read_int(), "nr": r.read_int(), "nc": r.read_int()}
    p.update(
        stride_y=r.read_int(), stride_x=r.read_int(), padding_y=r.read_int(), padding_x=r.read_int()
    )
    filters_shape = r.read_alias_tensor()
    r.read_alias_tensor()  # biases: (1, num_filters)
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.read_float()
    p["use_bias"] = r.read_bool() if version in ("con_5", "con_6") else True
    p["use_relu"] = r.read_bool() if version == "con_6" else False
    n_weights = int(np.prod(filters_shape))
    tensors = {"filters": params[:n_weights].reshape(filters_shape)}
    if p["use_bias"]:
        tensors["bias"] = params[n_weights : n_weights + p["num_filters"]].copy()
    return LayerRecord("con", version, p, tensors)


def _read_affine(r: DlibReader, version: str) -> LayerRecord:
    params = r.read_tensor().reshape(-1)
    gamma_shape = r.read_alias_tensor()
    r.read_alias_tensor()  # beta has gamma's shape
    mode = r.read_int()
    disabled = r.read_bool() if version == "affine_2" else False
    n = int(np.prod(gamma_shape))
    tensors = {
        "gamma": params[:n].reshape(gamma_shape),
        "beta": params[n : 2 * n].reshape(gamma_shape),
    }
    return LayerRecord("affine", version, {"mode": mode, "disabled": disabled}, tensors)


def _read_bn(r: DlibReader, version: str) -> LayerRecord:
    params = r.read_tensor().reshape(-1)
    gamma_shape = r.read_alias_tensor()
    r.read_alias_tensor()
    r.read_tensor()  # means of the last training batch
    r.read_tensor()  # invstds of the last training batch
    running_means = r.read_tensor()
    running_variances = r.read_tensor()
    p: dict[str, Any] = {"num_updates": r.read_int(), "running_stats_window_size": r.read_int()}
    for _ in range(4):
        r.read_float()
    p["eps"] = r.read_float()
    n = int(np.prod(gamma_shape))
    tensors = {
        "gamma": params[:n].reshape(gamma_shape),
        "beta": params[n : 2 * n].reshape(gamma_shape),
        "running_means": running_means.reshape(gamma_shape),
        "running_variances": running_variances.reshape(gamma_shape),
    }
    kind = "bn_con" if version == "bn_con2" else "bn_fc"
    return LayerRecord(kind, version, p, tensors)


def _read_fc(r: DlibReader, version: str) -> LayerRecord:
    p: dict[str, Any] = {"num_outputs": r.read_int(), "num_inputs": r.read_int()}
    params = r.read_tensor().reshape(-1)
    w_shape = r.read_alias_tensor()
    r.read_alias_tensor()
    p["bias_mode"] = r.read_int()  # 0 = FC_HAS_BIAS, 1 = FC_NO_BIAS
    for _ in range(4):
        r.read_float()
    use_bias = r.read_bool() if version == "fc_3" else True
    p["use_bias"] = use_bias and p["bias_mode"] == 0
    n_in, n_out = w_shape[0], w_shape[1]
    tensors = {"weights": params[: n_in * n_out].reshape(n_in, n_out)}
    if p["use_bias"]:
        tensors["bias"] = params[n_in * n_out : n_in * n_out + n_out].copy()
    return LayerRecord("fc", version, p, tensors)


def _read_pool(r: DlibReader, version: str) -> LayerRecord:
    p = {"nr": r.read_int(), "nc": r.read_int(), "stride_y": r.read_int(), "stride_x": r.read_int()}
    p.update(padding_y=r.read_int(), padding_x=r.read_int())
    return LayerRecord(version.rsplit("_", 1)[0], version, p)


def _read_relu(r: DlibReader, version: str) -> LayerRecord:
    return LayerRecord(
        "relu", version, {"disabled": r.read_bool() if version == "relu_2" else False}
    )


def _read_add_prev(r: DlibReader, version: str) -> LayerRecord:
    return LayerRecord("add_prev", version)


def _read_input_sized(r: DlibReader, version: str) -> LayerRecord:
    p: dict[str, Any] = {
        "avg_red": r.read_float(),
        "avg_green": r.read_float(),
        "avg_blue": r.read_float(),
    }
    p.update(nr=r.read_int(), nc=r.read_int())
    return LayerRecord(version, version, p)


def _read_input_pyramid(r: DlibReader, version: str) -> LayerRecord:
    p: dict[str, Any] = {
        "avg_red": r.read_float(),
        "avg_green": r.read_float(),
        "avg_blue": r.read_float(),
    }
    if version == "input_rgb_image_pyramid2":
        p.update(pyramid_padding=r.read_int(), pyramid_outer_padding=r.read_int())
    else:
        p.update(pyramid_padding=10, pyramid_outer_padding=11)
    return LayerRecord("input_rgb_image_pyramid", version, p)


def _read_loss_metric(r: DlibReader, version: str) -> LayerRecord:
    if version == "loss_metric_":
        return LayerRecord("loss_metric", version, {"margin": 0.1, "distance_threshold": 0.75})
    return LayerRecord(
        "loss_metric", version, {"margin": r.read_float(), "distance_threshold": r.read_float()}
    )


def _read_loss_mmod(r: DlibReader, version: str) -> LayerRecord:
    opt_version = r.read_int()
    windows: list[tuple[int, int, str]] = []
    if opt_version == 1:
        windows.append((r.read_int(), r.read_int(), ""))
    else:
        for _ in range(r.read_int()):
            win_version = r.read_int()
            w, h = r.read_int(), r.read_int()
            windows.append((w, h, r.read_string() if win_version == 2 else ""))
    p: dict[str, Any] = {"detector_windows": windows}
    p.update(loss_per_false_alarm=r.read_float(), loss_per_missed_target=r.read_float())
    p["truth_match_iou_threshold"] = r.read_float()
    p["overlaps_nms"] = (r.read_float(), r.read_float())  # (iou_thresh, percent_covered_thresh)
    p["overlaps_ignore"] = (r.read_float(), r.read_float())
    p["assume_image_pyramid"] = bool(r.read_byte()) if opt_version >= 3 else True
    p["use_bounding_box_regression"] = r.read_bool() if opt_version >= 4 else False
    p["bbr_lambda"] = r.read_float() if opt_version >= 4 else 100.0
    return LayerRecord("loss_mmod", version, p)


_DETAILS: dict[str, Callable[[DlibReader, str], LayerRecord]] = {
    "con_4": _read_con,
    "con_5": _read_con,
    "con_6": _read_con,
    "affine_": _read_affine,
    "affine_2": _read_affine,
    "bn_con2": _read_bn,
    "bn_fc2": _read_bn,
    "fc_2": _read_fc,
    "fc_3": _read_fc,
    "max_pool_2": _read_pool,
    "avg_pool_2": _read_pool,
    "relu_": _read_relu,
    "relu_2": _read_relu,
    "add_prev_": _read_add_prev,
    "input_rgb_image_sized": _read_input_sized,
    "input_rgb_image_pyramid": _read_input_pyramid,
    "input_rgb_image_pyramid2": _read_input_pyramid,
    "loss_metric_": _read_loss_metric,
    "loss_metric_2": _read_loss_metric,
    "loss_mmod_": _read_loss_mmod,
}


def read_details(r: DlibReader) -> LayerRecord:
    """One layer's details object: a version string, then that layer's fields."""
    start = r.pos
    version = r.read_string()
    reader = _DETAILS.get(version)
    if reader is None:
        r.pos = start
        raise r.fail(f"unsupported dlib layer {version!r}")
    return reader(r, version)


def _skip_add_layer_tail(r: DlibReader, input_level: bool) -> None:
    """The training state ``add_layer`` writes after its details (core.h, add_layer::serialize)."""
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, ..._disabled
        r.read_bool()
    r.read_tensor()  # x_grad
    r.read_tensor()  # cached_output
    r.read_tensor()  # params_grad (or grad_final for the input-level add_layer)
    if input_level:
        r.read_int()  # _sample_expansion_factor


def parse_network(data: bytes) -> DlibNetwork:
    """Parse a whole ``add_loss_layer`` network file into records, bottom-up."""
    r = DlibReader(data)
    if r.read_int() != 1:
        raise r.fail("not a dlib network file (add_loss_layer version 1 expected)")
    loss = read_details(r)
    versions: list[int] = []
    while not r.peek_input_name():
        versions.append(r.read_int())
        if versions[-1] not in (1, 2, 3) or len(versions) > 10_000:
            raise r.fail(f"unexpected layer wrapper version {versions[-1]}")
    input_record = read_details(r)
    layers: list[LayerRecord] = []
    bottom = versions.pop() if versions else 0
    if bottom == 3:  # add_layer over the input layer
        layers.append(read_details(r))
        _skip_add_layer_tail(r, input_level=True)
    elif bottom == 2:  # add_tag_layer over the input layer
        r.read_tensor()
        r.read_tensor()
        r.read_bool()
        r.read_int()
        layers.append(LayerRecord("tag_or_skip", "1"))
    else:
        raise r.fail(f"unexpected wrapper version {bottom} above the input layer")
    for version in reversed(versions):
        if version == 2:
            layers.append(read_details(r))
            _skip_add_layer_tail(r, input_level=False)
        elif version == 1:
            layers.append(LayerRecord("tag_or_skip", "1"))
        else:
            raise r.fail(f"unexpected wrapper version {version}")
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} trailing bytes after the network")
    return DlibNetwork(loss=loss, input=input_record, layers=layers)


def read_network(path: Path) -> DlibNetwork:
    """Parse the dlib network file at ``path``."""
    return parse_network(Path(path).read_bytes())
