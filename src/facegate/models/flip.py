"""Test-time flip: embed each chip and its left-right mirror, and average the two.

A wrapper around any :class:`~facegate.models.base.Embedder`: twice the embedding work for a
small accuracy gain on some models (measured per pack in docs/BENCHMARKS.md; a pack turns it on
by default only where it helped). The two unit vectors are summed and the sum normalised again,
so the result is still an L2-normalised embedding in the same space as the model's own.
"""

from __future__ import annotations

import numpy as np

from facegate.models.base import Embedder
from facegate.types import FloatArray, ImageArray


def flip_average(embedder: Embedder, chips: ImageArray) -> FloatArray:
    """Unit embeddings of ``chips`` averaged with those of their mirror images."""
    count = len(chips)
    if count == 0:
        return embedder.embed(chips)
    both = embedder.embed(np.concatenate([chips, chips[:, :, ::-1]]))
    summed = both[:count] + both[count:]
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    out: FloatArray = (summed / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class FlipAveragingEmbedder:
    """An :class:`Embedder` that averages each chip's embedding with its mirror's."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.chip_size = inner.chip_size
        self.dim = inner.dim

    def load(self) -> None:
        self.inner.load()

    def embed(self, chips: ImageArray) -> FloatArray:
        return flip_average(self.inner, chips)
