"""Test-time flip averages a chip's embedding with its mirror's."""

from __future__ import annotations

import numpy as np

from facegate.models.base import Embedder
from facegate.models.flip import FlipAveragingEmbedder
from facegate.types import FloatArray, ImageArray


class ColumnMeans:
    """A fake embedder: the unit vector of each chip's per-column mean (mirror reverses it)."""

    chip_size = 4
    dim = 4

    def __init__(self) -> None:
        self.batches: list[int] = []

    def load(self) -> None:
        pass

    def embed(self, chips: ImageArray) -> FloatArray:
        self.batches.append(len(chips))
        v = chips.astype(np.float32).mean(axis=(1, 3))
        out: FloatArray = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def test_flip_averages_in_one_batch_and_stays_unit_length() -> None:
    inner = ColumnMeans()
    flip: Embedder = FlipAveragingEmbedder(inner)
    chips = np.zeros((2, 4, 4, 3), np.uint8)
    chips[0, :, 0] = 200  # bright left column
    chips[0, :, 1:] = 10
    chips[1] = 50
    out = flip.embed(chips)
    assert inner.batches == [4]
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    a = np.array([200, 10, 10, 10], np.float32)
    expected = a / np.linalg.norm(a) + a[::-1] / np.linalg.norm(a)
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(out[0], out[0][::-1], rtol=1e-6)  # symmetric after averaging
    np.testing.assert_allclose(out[1], 0.5, rtol=1e-6)
    assert flip.embed(np.zeros((0, 4, 4, 3), np.uint8)).shape[0] == 0
