"""Read PyTorch ``.pt`` state dicts into numpy arrays, without PyTorch.

Two layouts exist, both read with the standard library's :mod:`pickle`:

* the legacy (pre-zip) format: a run of pickles (the magic number ``0x1950a86a20f9469cfc6c``,
  the protocol version ``1001``, system info, the object itself, the list of storage keys),
  then each storage's raw bytes in the order of that list, each preceded by its element count
  as a little-endian int64;
* the zip format (PyTorch >= 1.6): ``<archive>/data.pkl`` holds the object and
  ``<archive>/data/<key>`` each storage's raw bytes.

In both, the object's tensors are pickled as calls to ``torch._utils._rebuild_tensor_v2`` whose
storage argument is a *persistent id* ``("storage", <dtype class>, key, location, numel)``.
:class:`_Unpickler` allows exactly those globals (and ``collections.OrderedDict``); anything else
in the file (arbitrary code a hostile pickle could run) is refused with
:class:`~facegate.errors.ModelConversionError`. Tensors are materialised once the storages are
read; only little-endian, contiguous-or-strided float/int storages are supported.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.errors import ModelConversionError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_DTYPES: dict[str, npt.DTypeLike] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True, slots=True)
class _StorageType:
    name: str


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: npt.DTypeLike
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Rebuilds tensors as :class:`_TensorRef` placeholders; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise ModelConversionError(f"unsupported object in a PyTorch file: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ModelConversionError(f"unsupported persistent id in a PyTorch file: {pid!r}")
        kind = pid[1]
        if not isinstance(kind, _StorageType):
            raise ModelConversionError("a storage in the PyTorch file has no known type")
        return _StorageRef(str(pid[2]), _DTYPES[kind.name], int(pid[4]))


def _load_pickle(fh: io.BufferedIOBase | io.BytesIO) -> Any:
    try:
        return _Unpickler(fh).load()
    except ModelConversionError:
        raise
    except Exception as exc:  # pickle raises many types on damaged input
        raise ModelConversionError(f"damaged PyTorch file: {exc}") from exc


def _collect_tensors(obj: Any) -> dict[str, _TensorRef]:
    if not isinstance(obj, dict):
        raise ModelConversionError("the PyTorch file does not hold a state dict")
    out: dict[str, _TensorRef] = {}
    for name, value in obj.items():
        if not isinstance(value, _TensorRef):
            raise ModelConversionError(f"state dict entry {name!r} is not a tensor")
        out[str(name)] = value
    return out


def _materialise(ref: _TensorRef, raw: bytes) -> npt.NDArray[Any]:
    dtype = np.dtype(ref.storage.dtype).newbyteorder("<")
    flat = np.frombuffer(raw, dtype=dtype, count=ref.storage.numel)
    if not ref.shape:
        return np.array(flat[ref.offset])
    itemsize = dtype.itemsize
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if min(ref.shape) > 0 and (ref.offset < 0 or last >= ref.storage.numel):
        raise ModelConversionError("a tensor reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :],
        shape=ref.shape,
        strides=tuple(s * itemsize for s in ref.stride),
        writeable=False,
    )
    return np.array(view, dtype=dtype.newbyteorder("="))


def _read_legacy(data: bytes) -> dict[str, npt.NDArray[Any]]:
    fh = io.BytesIO(data)
    if _load_pickle(fh) != LEGACY_MAGIC:
        raise ModelConversionError("not a PyTorch file (bad magic number)")
    if _load_pickle(fh) != LEGACY_PROTOCOL:
        raise ModelConversionError("unsupported PyTorch legacy protocol version")
    info = _load_pickle(fh)
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise ModelConversionError("only little-endian PyTorch files are supported")
    tensors = _collect_tensors(_load_pickle(fh))
    keys = _load_pickle(fh)
    if not isinstance(keys, list):
        raise ModelConversionError("damaged PyTorch file: no storage key list")
    by_key = {t.storage.key: t.storage for t in tensors.values()}
    raw: dict[str, bytes] = {}
    for key in keys:
        storage = by_key.get(str(key))
        header = fh.read(8)
        if storage is None or len(header) != 8:
            raise ModelConversionError("damaged PyTorch file: storage list does not match")
        (numel,) = struct.unpack("<q", header)
        size = numel * np.dtype(storage.dtype).itemsize
        blob = fh.read(size)
        if numel != storage.numel or len(blob) != size:
            raise ModelConversionError("damaged PyTorch file: a storage is truncated")
        raw[storage.key] = blob
    return {name: _materialise(t, raw[t.storage.key]) for name, t in tensors.items()}


def _read_zip(data: bytes) -> dict[str, npt.NDArray[Any]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ModelConversionError("PyTorch zip file without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        with archive.open(pkl) as fh:
            tensors = _collect_tensors(_load_pickle(io.BytesIO(fh.read())))
        out = {}
        for name, ref in tensors.items():
            try:
                blob = archive.read(f"{prefix}data/{ref.storage.key}")
            except KeyError:
                raise ModelConversionError(f"storage {ref.storage.key} missing") from None
            if len(blob) < ref.storage.numel * np.dtype(ref.storage.dtype).itemsize:
                raise ModelConversionError("damaged PyTorch file: a storage is truncated")
            out[name] = _materialise(ref, blob)
        return out


def read_state_dict(source: Path | bytes) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a PyTorch state dict file (legacy or zip format) as numpy arrays."""
    data = Path(source).read_bytes() if isinstance(source, Path) else source
    if data[:4] == b"PK\x03\x04":
        try:
            return _read_zip(data)
        except zipfile.BadZipFile as exc:
            raise ModelConversionError(f"damaged PyTorch zip file: {exc}") from exc
    return _read_legacy(data)
