"""A fused embedder: several ArcFace-format embedders on the same aligned chip, one template.

Each member embeds the chip (with its own normalisation, and its own test-time flip when its
spec asks for it) into a unit vector; the template is the concatenation of
``sqrt(weight) * vector`` over the members. With weights that sum to 1 it is a unit vector, and
the cosine of two templates is the weighted sum of the members' cosines, so inner-product search,
calibration and every operating point work on it unchanged. The members' weights and files are
pinned by the pack manifest (kind ``arcface-fusion``); the fused space has its own ``pack_id``
and calibration, and its templates are never compared with a member's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facegate.models.base import Embedder
from facegate.types import FloatArray, ImageArray


class FusedEmbedder:
    """An :class:`Embedder` whose rows are the weighted concatenation of its members' rows."""

    def __init__(self, members: Sequence[tuple[Embedder, float]]) -> None:
        if len(members) < 2:
            raise ValueError("a fused embedder needs at least two members")
        sizes = {embedder.chip_size for embedder, _ in members}
        if len(sizes) != 1:
            raise ValueError("fused members must take chips of one size")
        if abs(sum(w for _, w in members) - 1.0) > 1e-6 or min(w for _, w in members) <= 0:
            raise ValueError("fused members' weights must be positive and sum to 1")
        self.members = list(members)
        self.chip_size = sizes.pop()
        self.dim = sum(embedder.dim for embedder, _ in members)
        self._scales = [float(np.sqrt(w)) for _, w in members]

    def load(self) -> None:
        for embedder, _ in self.members:
            embedder.load()

    def embed(self, chips: ImageArray) -> FloatArray:
        parts = [
            scale * embedder.embed(chips)
            for (embedder, _), scale in zip(self.members, self._scales, strict=True)
        ]
        out: FloatArray = np.concatenate(parts, axis=1).astype(np.float32)
        return out
