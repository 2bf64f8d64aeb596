"""The PyTorch state-dict reader, on files written here in both layouts (no PyTorch needed)."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

from facegate.errors import ModelConversionError
from facegate.models.torch_format import LEGACY_MAGIC, LEGACY_PROTOCOL, read_state_dict


class _Storage:
    def __init__(self, key: str, values: np.ndarray) -> None:
        self.key, self.values = key, values


def _fake_torch(monkeypatch: pytest.MonkeyPatch) -> tuple[type, object]:
    """Modules named like PyTorch's, so that pickle writes the same globals a .pt file holds."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args: object) -> None:
        return None

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return FloatStorage, _rebuild_tensor_v2


class _Tensor:
    def __init__(
        self, storage: _Storage, offset: int, shape: tuple, stride: tuple, rebuild: object
    ):
        self.args = (storage, offset, shape, stride, False, collections.OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self) -> tuple:
        return (self.rebuild, self.args)


def _pickler(buf: io.BytesIO, storage_type: type) -> pickle.Pickler:
    pickler = pickle.Pickler(buf, protocol=2)

    def persistent_id(obj: object) -> tuple | None:
        if isinstance(obj, _Storage):
            return ("storage", storage_type, obj.key, "cpu", obj.values.size, None)
        return None

    pickler.persistent_id = persistent_id  # type: ignore[method-assign]
    return pickler


def _state(monkeypatch: pytest.MonkeyPatch) -> tuple[collections.OrderedDict, list[_Storage], type]:
    storage_type, rebuild = _fake_torch(monkeypatch)
    weights = np.arange(24, dtype=np.float32)
    bias = np.array([0.5, -1.5], dtype=np.float32)
    s1, s2 = _Storage("100", weights), _Storage("200", bias)
    state = collections.OrderedDict(
        [
            ("conv.weight", _Tensor(s1, 0, (2, 3, 4), (12, 4, 1), rebuild)),
            ("conv.weight_t", _Tensor(s1, 0, (4, 3, 2), (1, 4, 12), rebuild)),  # strided view
            ("conv.bias", _Tensor(s2, 0, (2,), (1,), rebuild)),
            ("conv.tail", _Tensor(s1, 20, (4,), (1,), rebuild)),  # offset into a storage
        ]
    )
    return state, [s1, s2], storage_type


def _legacy(monkeypatch: pytest.MonkeyPatch) -> bytes:
    state, storages, storage_type = _state(monkeypatch)
    buf = io.BytesIO()
    for obj in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(obj, buf, protocol=2)
    _pickler(buf, storage_type).dump(state)
    pickle.dump([s.key for s in storages], buf, protocol=2)
    for s in storages:
        buf.write(struct.pack("<q", s.values.size) + s.values.astype("<f4").tobytes())
    return buf.getvalue()


def _check(tensors: dict[str, np.ndarray]) -> None:
    expected = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(tensors["conv.weight"], expected)
    np.testing.assert_array_equal(tensors["conv.weight_t"], expected.transpose(2, 1, 0))
    np.testing.assert_array_equal(tensors["conv.bias"], [0.5, -1.5])
    np.testing.assert_array_equal(tensors["conv.tail"], [20, 21, 22, 23])
    assert all(t.dtype == np.float32 for t in tensors.values())


def test_legacy_format(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _legacy(monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # the reader never imports torch
    _check(read_state_dict(data))


def test_zip_format(monkeypatch: pytest.MonkeyPatch) -> None:
    state, storages, storage_type = _state(monkeypatch)
    buf = io.BytesIO()
    _pickler(buf, storage_type).dump(state)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("model/data.pkl", buf.getvalue())
        for s in storages:
            archive.writestr(f"model/data/{s.key}", s.values.astype("<f4").tobytes())
    _check(read_state_dict(out.getvalue()))


def test_truncated_storage_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _legacy(monkeypatch)
    with pytest.raises(ModelConversionError, match="truncated"):
        read_state_dict(data[:-4])


def test_code_in_the_pickle_is_refused() -> None:
    class Hostile:
        def __reduce__(self) -> tuple:
            return (os.system, ("echo pwned",))

    buf = io.BytesIO()
    for obj in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}, Hostile()):
        pickle.dump(obj, buf, protocol=2)
    with pytest.raises(ModelConversionError, match="unsupported object"):
        read_state_dict(buf.getvalue())


def test_not_a_pytorch_file() -> None:
    with pytest.raises(ModelConversionError):
        read_state_dict(b"GIF89a not a model")
