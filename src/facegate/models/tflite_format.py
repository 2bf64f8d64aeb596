"""Read TensorFlow Lite model files (``.tflite``) without TensorFlow.

A ``.tflite`` file is a FlatBuffer (identifier ``TFL3``) of the schema in TensorFlow's
``lite/schema/schema.fbs``. This module has its own small FlatBuffer reader (tables through
their vtables, vectors, strings, scalars), reads the first subgraph into plain values
(:class:`TfliteGraph`: tensors with their constant data, operators with their options) and
nothing more. Every offset is bounds-checked, so a damaged or hostile file raises
:class:`~facegate.errors.ModelConversionError` instead of reading out of place.

Constants stored as float16 or int8 and turned into float32 by a ``DEQUANTIZE`` operator are
left as they are here; :mod:`facegate.models.tflite_onnx` folds them.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.errors import ModelConversionError

FILE_IDENTIFIER = b"TFL3"

# BuiltinOperator codes (schema.fbs) of the operators facegate reads.
OPERATOR_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0: "ADD",
        1: "AVERAGE_POOL_2D",
        2: "CONCATENATION",
        3: "CONV_2D",
        4: "DEPTHWISE_CONV_2D",
        6: "DEQUANTIZE",
        14: "LOGISTIC",
        17: "MAX_POOL_2D",
        18: "MUL",
        19: "RELU",
        21: "RELU6",
        22: "RESHAPE",
        23: "RESIZE_BILINEAR",
        28: "TANH",
        34: "PAD",
        41: "SUB",
        101: "ABS",
    }
)

# TensorType -> numpy dtype.
TENSOR_DTYPES: Mapping[int, np.dtype[Any]] = MappingProxyType(
    {
        0: np.dtype("<f4"),
        1: np.dtype("<f2"),
        2: np.dtype("<i4"),
        3: np.dtype("u1"),
        4: np.dtype("<i8"),
        6: np.dtype("?"),
        7: np.dtype("<i2"),
        9: np.dtype("i1"),
        10: np.dtype("<f8"),
    }
)

ACTIVATIONS: Mapping[int, str] = MappingProxyType(
    {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
)
PADDINGS: Mapping[int, str] = MappingProxyType({0: "SAME", 1: "VALID"})

# Options tables, per operator: (name, vtable slot, struct format, default).
_Field = tuple[str, int, str, int]
_CONV: tuple[_Field, ...] = (
    ("padding", 0, "b", 0),
    ("stride_w", 1, "i", 0),
    ("stride_h", 2, "i", 0),
    ("activation", 3, "b", 0),
    ("dilation_w", 4, "i", 1),
    ("dilation_h", 5, "i", 1),
)
_DEPTHWISE: tuple[_Field, ...] = (
    ("padding", 0, "b", 0),
    ("stride_w", 1, "i", 0),
    ("stride_h", 2, "i", 0),
    ("depth_multiplier", 3, "i", 0),
    ("activation", 4, "b", 0),
    ("dilation_w", 5, "i", 1),
    ("dilation_h", 6, "i", 1),
)
_POOL: tuple[_Field, ...] = (
    ("padding", 0, "b", 0),
    ("stride_w", 1, "i", 0),
    ("stride_h", 2, "i", 0),
    ("filter_w", 3, "i", 0),
    ("filter_h", 4, "i", 0),
    ("activation", 5, "b", 0),
)
_ACTIVATION_ONLY: tuple[_Field, ...] = (("activation", 0, "b", 0),)
OPTION_FIELDS: Mapping[str, tuple[_Field, ...]] = MappingProxyType(
    {
        "CONV_2D": _CONV,
        "DEPTHWISE_CONV_2D": _DEPTHWISE,
        "MAX_POOL_2D": _POOL,
        "AVERAGE_POOL_2D": _POOL,
        "ADD": _ACTIVATION_ONLY,
        "SUB": _ACTIVATION_ONLY,
        "MUL": _ACTIVATION_ONLY,
        "CONCATENATION": (("axis", 0, "i", 0), ("activation", 1, "b", 0)),
        "RESIZE_BILINEAR": (("align_corners", 2, "?", 0), ("half_pixel_centers", 3, "?", 0)),
    }
)


class _Table:
    """One FlatBuffer table: a position in the buffer and its vtable."""

    __slots__ = ("_buf", "_pos", "_vtable", "_vtable_size")

    def __init__(self, buf: bytes, pos: int) -> None:
        self._buf = buf
        self._pos = pos
        self._vtable = pos - _read(buf, "<i", pos)
        self._vtable_size = _read(buf, "<H", self._vtable)

    def _field(self, slot: int) -> int:
        entry = 4 + 2 * slot
        if entry + 2 > self._vtable_size:
            return 0
        rel = int(_read(self._buf, "<H", self._vtable + entry))
        return self._pos + rel if rel else 0

    def scalar(self, slot: int, fmt: str, default: int) -> Any:
        at = self._field(slot)
        return _read(self._buf, "<" + fmt, at) if at else default

    def _indirect(self, slot: int) -> int:
        at = self._field(slot)
        return at + int(_read(self._buf, "<I", at)) if at else 0

    def table(self, slot: int) -> _Table | None:
        at = self._indirect(slot)
        return _Table(self._buf, at) if at else None

    def _vector(self, slot: int) -> tuple[int, int]:
        at = self._indirect(slot)
        if not at:
            return 0, 0
        return at + 4, int(_read(self._buf, "<I", at))

    def tables(self, slot: int) -> list[_Table]:
        start, count = self._vector(slot)
        items = []
        for i in range(count):
            at = start + 4 * i
            items.append(_Table(self._buf, at + int(_read(self._buf, "<I", at))))
        return items

    def array(self, slot: int, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        start, count = self._vector(slot)
        kind = np.dtype(dtype)
        if start + count * kind.itemsize > len(self._buf):
            raise ModelConversionError("TFLite file is truncated or damaged (vector out of range)")
        return (
            np.frombuffer(self._buf, dtype=kind, count=count, offset=start)
            if count
            else (np.zeros(0, dtype=kind))
        )

    def string(self, slot: int) -> str:
        return bytes(self.array(slot, np.uint8)).decode("utf-8", errors="replace")


def _read(buf: bytes, fmt: str, at: int) -> Any:
    if at < 0:  # struct would count a negative offset from the end
        raise ModelConversionError("TFLite file is damaged (negative offset)")
    try:
        return struct.unpack_from(fmt, buf, at)[0]
    except struct.error as exc:
        raise ModelConversionError("TFLite file is truncated or damaged") from exc


@dataclass(frozen=True, slots=True, eq=False)
class TfliteTensor:
    """A tensor: its name, shape (batch included), dtype and, for a constant, its data."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    data: npt.NDArray[Any] | None
    scale: npt.NDArray[np.float32] | None = None
    zero_point: npt.NDArray[np.int64] | None = None


@dataclass(frozen=True, slots=True)
class TfliteOperator:
    """An operator: its name, input and output tensor indices (-1: absent) and options."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class TfliteGraph:
    """The first subgraph of a ``.tflite`` model, in execution order."""

    version: int
    tensors: tuple[TfliteTensor, ...]
    operators: tuple[TfliteOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def constant(self, index: int) -> npt.NDArray[Any] | None:
        """The data of tensor ``index`` when it is a constant, else None."""
        return self.tensors[index].data


def _buffer_data(buf: bytes, table: _Table) -> bytes:
    data = table.array(0, np.uint8)
    if len(data):
        return data.tobytes()
    offset, size = int(table.scalar(1, "Q", 0)), int(table.scalar(2, "Q", 0))
    if offset > 1 and size:  # models over 2 GB keep buffers after the FlatBuffer
        if offset + size > len(buf):
            raise ModelConversionError("TFLite buffer lies outside the file")
        return buf[offset : offset + size]
    return b""


def _tensor(buf: bytes, table: _Table, buffers: list[bytes]) -> TfliteTensor:
    name = table.string(3)
    shape = tuple(int(d) for d in table.array(0, "<i4"))
    type_code = int(table.scalar(1, "b", 0))
    dtype = TENSOR_DTYPES.get(type_code)
    if dtype is None:
        raise ModelConversionError(f"tensor {name!r} has a type facegate cannot read ({type_code})")
    index = int(table.scalar(2, "I", 0))
    if index >= len(buffers):
        raise ModelConversionError(f"tensor {name!r} names buffer {index} of {len(buffers)}")
    raw = buffers[index]
    data = None
    if raw:
        count = int(np.prod(shape)) if shape else 1
        if len(raw) != count * dtype.itemsize:
            raise ModelConversionError(f"tensor {name!r}: {len(raw)} bytes for shape {shape}")
        data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    scale = zero_point = None
    quant = table.table(4)
    if quant is not None and len(quant.array(2, "<f4")):
        scale = quant.array(2, "<f4").astype(np.float32)
        zero_point = quant.array(3, "<i8").astype(np.int64)
    return TfliteTensor(name, shape, dtype, data, scale, zero_point)


def _options(name: str, table: _Table | None) -> Mapping[str, Any]:
    fields = OPTION_FIELDS.get(name, ())
    values: dict[str, Any] = {}
    for key, slot, fmt, default in fields:
        values[key] = table.scalar(slot, fmt, default) if table is not None else default
    if "activation" in values:
        code = int(values["activation"])
        if code not in ACTIVATIONS:
            raise ModelConversionError(f"{name} has an unsupported fused activation ({code})")
        values["activation"] = ACTIVATIONS[code]
    if "padding" in values:
        values["padding"] = PADDINGS.get(int(values["padding"]), "SAME")
    return MappingProxyType(values)


def _operator_names(model: _Table) -> list[str]:
    names = []
    for code_table in model.tables(1):
        code = max(int(code_table.scalar(0, "b", 0)), int(code_table.scalar(3, "i", 0)))
        if code == 32:  # CUSTOM
            raise ModelConversionError(f"custom operator {code_table.string(1)!r} is not supported")
        name = OPERATOR_NAMES.get(code)
        if name is None:
            raise ModelConversionError(f"TFLite operator {code} is not supported by facegate")
        names.append(name)
    return names


def parse_tflite(buf: bytes) -> TfliteGraph:
    """Parse the bytes of a ``.tflite`` file into its first subgraph."""
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        raise ModelConversionError("not a TFLite model (no TFL3 file identifier)")
    try:
        model = _Table(buf, int(_read(buf, "<I", 0)))
        buffers = [_buffer_data(buf, table) for table in model.tables(4)]
        subgraphs = model.tables(2)
        if not subgraphs:
            raise ModelConversionError("TFLite model has no subgraph")
        graph = subgraphs[0]
        names = _operator_names(model)
        tensors = tuple(_tensor(buf, table, buffers) for table in graph.tables(0))
        operators = []
        for table in graph.tables(3):
            index = int(table.scalar(0, "I", 0))
            if index >= len(names):
                raise ModelConversionError(f"operator code {index} out of range")
            name = names[index]
            ins = tuple(int(i) for i in table.array(1, "<i4"))
            outs = tuple(int(i) for i in table.array(2, "<i4"))
            if any(i >= len(tensors) for i in ins + outs):
                raise ModelConversionError(f"{name} names a tensor out of range")
            operators.append(TfliteOperator(name, ins, outs, _options(name, table.table(4))))
        inputs = tuple(int(i) for i in graph.array(1, "<i4"))
        outputs = tuple(int(i) for i in graph.array(2, "<i4"))
    except (IndexError, ValueError, OverflowError) as exc:
        if isinstance(exc, ModelConversionError):
            raise
        raise ModelConversionError(f"TFLite file is damaged: {exc}") from exc
    return TfliteGraph(int(model.scalar(0, "I", 0)), tensors, tuple(operators), inputs, outputs)


def read_tflite(path: Path) -> TfliteGraph:
    """Read and parse the ``.tflite`` file at ``path``."""
    return parse_tflite(Path(path).read_bytes())
