"""The projected exact index: same top-k as an exhaustive search, through the gallery's index."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from facegate.store.index import IndexParams, PurposeIndex
from facegate.store.projected import ProjectedFlatIndex
from facegate.store.protocol import IntArray
from facegate.types import FloatArray


def _faces_like(rng: np.random.Generator, n: int, dim: int = 32) -> FloatArray:
    """Unit vectors with a common mean and a decaying spectrum, as face embeddings have."""
    scales = np.geomspace(1.0, 0.05, dim)
    v = 2.0 + rng.standard_normal((n, dim)) * scales
    out: FloatArray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return out


def _assert_exact(positions: IntArray, vectors: FloatArray, queries: FloatArray, k: int) -> None:
    """``positions`` hold an exhaustive search's top ``k`` (up to float ties), best first."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    best, _ = flat.search(queries, k)
    found = np.einsum("qkd,qd->qk", vectors[positions], queries)
    np.testing.assert_allclose(found, best, atol=1e-5)


@pytest.mark.parametrize("codec", ["sq8", "fp16", "float"])
@pytest.mark.parametrize("rank", [2, 8, 24])
def test_top_k_is_that_of_an_exhaustive_search(codec: str, rank: int) -> None:
    rng = np.random.default_rng(rank)
    vectors = _faces_like(rng, 3000)
    index = ProjectedFlatIndex(32, rank, codec)  # type: ignore[arg-type]
    index.add(vectors[:1000])  # fitted here
    index.add(vectors[1000:1500])  # encoded with the first basis
    index.add(vectors[1500:])  # past twice the fitted size: fitted again
    queries = np.concatenate([_faces_like(rng, 40), vectors[::150]])
    for k in (1, 5, 40):
        scores, positions = index.search(queries, k)
        _assert_exact(positions, vectors, queries, k)
        np.testing.assert_allclose(
            scores, np.einsum("qkd,qd->qk", vectors[positions], queries), atol=1e-6
        )


def test_bound_holds_for_vectors_far_from_the_fitted_ones() -> None:
    rng = np.random.default_rng(7)
    fitted = _faces_like(rng, 2000)
    odd = rng.standard_normal((200, 32)).astype(np.float32)  # no common mean: big residuals
    odd /= np.linalg.norm(odd, axis=1, keepdims=True)
    index = ProjectedFlatIndex(32, 8)
    index.add(fitted)
    index.add(odd)  # 2,200 <= twice 2,000: no refit, so codes may clip
    vectors = np.concatenate([fitted, odd])
    queries = np.concatenate([odd[:20], _faces_like(rng, 20)])
    _, positions = index.search(queries, 3)
    _assert_exact(positions, vectors, queries, 3)


def test_short_index_pads_and_memory_counts_full_vectors() -> None:
    rng = np.random.default_rng(8)
    vectors = _faces_like(rng, 3)
    index = ProjectedFlatIndex(32, 4)
    index.add(vectors)
    scores, positions = index.search(vectors[:1], 5)
    assert positions[0, 0] == 0 and list(positions[0, 3:]) == [-1, -1]
    assert index.memory_bytes() >= 3 * 32 * 4
    np.testing.assert_array_equal(index.reconstruct_n(0, 3), vectors)
    with pytest.raises(ValueError):
        ProjectedFlatIndex(32, 32)


def test_purpose_index_switches_to_projected_and_stays_exact() -> None:
    rng = np.random.default_rng(9)
    vectors = _faces_like(rng, 400)
    rows = np.repeat(np.arange(200, dtype=np.int64), 2)
    params = IndexParams(hnsw_min_size=100, large_index="projected", projected_rank=8)
    index = PurposeIndex(32, params)
    index.add(rows[:50], vectors[:50])
    assert index.kind == "flat"
    index.add(rows[50:], vectors[50:])
    assert index.kind == "projected" and index.templates == 400 and index.subjects == 200
    hits = index.search(vectors[::2], 5)
    assert [h[0].row for h in hits] == list(range(200))
    assert all(len({x.row for x in h}) == 5 for h in hits)
    assert index.memory_bytes() > 400 * 32 * 4
    assert index.remove(3) == 2 and index.templates == 398
    assert all(3 not in {x.row for x in h} for h in index.search(vectors, 10))
    for row in range(10, 60):  # past a fifth dead: rebuilt, still projected
        index.remove(row)
    assert index.kind == "projected" and index.templates == 298
    assert index.search(vectors[200:201], 1)[0][0].row == 100


def test_default_large_index_is_projected_and_fits_small_dimensions() -> None:
    rng = np.random.default_rng(10)
    vectors = _faces_like(rng, 40, dim=16)  # fewer dimensions than the default rank
    index = PurposeIndex(16, IndexParams(hnsw_min_size=20))
    index.add(np.arange(40, dtype=np.int64), vectors)
    assert index.kind == "projected"
    assert [h[0].row for h in index.search(vectors, 1)] == list(range(40))
