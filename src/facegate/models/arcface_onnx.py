"""A generic ArcFace-format ONNX embedder, driven by a pack manifest's embedder spec.

ArcFace-format models (InsightFace's layout, and most models an organisation licenses) take
aligned ``size`` x ``size`` face chips, scaled as ``(pixel - mean) / std`` per channel, in RGB
or BGR order, NCHW or NHWC, and return one vector per face. This embedder does what the spec
says: colour order, normalisation, layout; a network whose input batch is fixed in the file
(MobileFaceNet's is 2) runs in chunks of that size, the last one padded with black chips whose
outputs are dropped; the output rows are L2-normalised.

The session is injectable (anything with ONNX Runtime's ``run``), so tests can run it on a fake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import ModelConversionError
from facegate.models.base import InferenceSession
from facegate.models.specs import EmbedderSpec
from facegate.types import FloatArray, ImageArray


def _fixed_batch(session: Any) -> tuple[str, int | None]:
    """The session's input name and its fixed batch size (None when the batch is dynamic)."""
    inputs = session.get_inputs() if hasattr(session, "get_inputs") else None
    if not inputs:
        return "input", None
    first = inputs[0]
    batch = first.shape[0] if first.shape else None
    return str(first.name), batch if isinstance(batch, int) and batch > 0 else None


class ArcfaceOnnxEmbedder:
    """Embeds ``(N, size, size, 3)`` uint8 RGB chips with an ArcFace-format ONNX model."""

    def __init__(
        self,
        spec: EmbedderSpec,
        model_file: Callable[[], Path] | None = None,
        session: InferenceSession | None = None,
        batch_size: int = 32,
    ) -> None:
        self.spec = spec
        self.chip_size = spec.input_size
        self.dim = spec.output_dim
        self.batch_size = max(1, batch_size)
        self._model_file = model_file
        self._session = session
        self._input_name = "input"
        self._fixed: int | None = spec.batch
        if session is not None:
            self._inspect(session)
        self._lock = threading.Lock()
        norm = spec.normalisation
        self._mean = np.asarray(norm.mean, dtype=np.float32)
        self._scale = 1.0 / np.asarray(norm.std, dtype=np.float32)

    def _inspect(self, session: Any) -> None:
        name, fixed = _fixed_batch(session)
        self._input_name = name
        self._fixed = fixed if fixed is not None else self.spec.batch

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            if self._model_file is None:
                raise ModelConversionError("the embedder has neither a session nor a model file")
            from facegate.models.onnx_runtime import create_session

            session = create_session(self._model_file())
            self._inspect(session)
            self._session = session

    def _get(self) -> InferenceSession:
        if self._session is None:
            self.load()
        if self._session is None:  # pragma: no cover - load() always sets it or raises
            raise ModelConversionError("embedder session failed to load")
        return self._session

    def prepare(self, chips: ImageArray) -> FloatArray:
        """The network's input for ``chips``: colour order, (x - mean) / std, layout."""
        size = self.chip_size
        if chips.ndim != 4 or chips.shape[1:] != (size, size, 3):
            raise ValueError(f"chips must be (N, {size}, {size}, 3) uint8 RGB")
        x = chips[..., ::-1] if self.spec.colour_order == "BGR" else chips
        out: FloatArray = (x.astype(np.float32) - self._mean) * self._scale
        if self.spec.layout == "NCHW":
            out = out.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_raw(self, chips: ImageArray) -> FloatArray:
        """The model's unnormalised outputs, ``(N, dim)`` float32."""
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._get()
        batch = self._fixed or self.batch_size
        parts = []
        for start in range(0, len(chips), batch):
            x = self.prepare(chips[start : start + batch])
            count = len(x)
            if self._fixed is not None and count < batch:
                x = np.concatenate([x, np.zeros((batch - count, *x.shape[1:]), np.float32)])
            y = np.asarray(session.run(None, {self._input_name: x})[0], dtype=np.float32)
            parts.append(y.reshape(len(x), -1)[:count])
        raw = np.concatenate(parts)
        if raw.shape[1] != self.dim:
            raise ModelConversionError(
                f"the embedder returned {raw.shape[1]} values per face; its manifest says "
                f"output_dim {self.dim}"
            )
        return raw

    def embed(self, chips: ImageArray) -> FloatArray:
        raw = self.embed_raw(chips)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        out: FloatArray = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return out
