"""Exact inner-product search that scans a small code per template and proves its answer.

Every template ``x`` (unit length) is split along an orthonormal basis ``P`` (``r`` rows,
fitted to the index's own vectors) into ``P x`` and a residual ``x - P^T P x``. The index scans
codes of ``x~ = (P x, |residual(x)|)``: with ``q~ = (P q, |residual(q)|)`` for a query ``q``,
Cauchy-Schwarz on the residuals gives an upper bound of the true score::

    x . q = (P x) . (P q) + residual(x) . residual(q)  <=  x~ . q~

The codes hold ``x~`` quantised to 8 bits per dimension (FAISS ``QT_8bit``), or as float16 or
float32; ``|x~ - decode(code)|`` is measured for every template as it is added, and its
maximum ``E`` bounds what quantisation can hide (``|q~| = 1``): ``x . q <= decoded . q~ + E``.

A search scans the codes for the ``k'`` best bounds, scores those templates exactly on their
full vectors, and stops once the ``k``-th exact score reaches the ``k'``-th bound plus ``E``:
no template outside the candidates can then beat it, so the top ``k`` is exactly that of an
exhaustive search. Otherwise it asks for ``8 k'`` candidates, and past an eighth of the
index it scores every template exactly. The basis
and the quantiser only decide how fast a search is, never what it returns.

The full vectors stay in memory for the exact scores and are never written anywhere.
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

from facegate.store.protocol import IntArray
from facegate.types import FloatArray

Codec = Literal["sq8", "fp16", "float"]

# Slack for float32 rounding in the scanned and exact scores (sums of ~100 products of
# coordinates of unit vectors; FAISS's SIMD decoding may round differently from sa_decode).
_ROUNDING = 1e-4
_FIRST_CANDIDATES = 128
_GROWTH = 8
_CHUNK = 65_536


def fit_basis(vectors: FloatArray, rank: int) -> FloatArray:
    """The ``rank`` leading eigenvectors of the second-moment matrix (rows, float32)."""
    sample = vectors[:: max(1, len(vectors) // 200_000)].astype(np.float64)
    moment = sample.T @ sample / max(1, len(sample))
    _, eigvecs = np.linalg.eigh(moment)
    basis: FloatArray = np.ascontiguousarray(eigvecs[:, ::-1][:, :rank].T, dtype=np.float32)
    return basis


def _lifted(vectors: FloatArray, basis: FloatArray) -> FloatArray:
    """``(P x, |x - P^T P x|)`` per row."""
    low = vectors @ basis.T
    residual = np.linalg.norm(vectors - low @ basis, axis=1, keepdims=True)
    out: FloatArray = np.ascontiguousarray(np.hstack([low, residual]), dtype=np.float32)
    return out


def _range(lifted: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-dimension minimum and maximum (one row each)."""
    return lifted.min(0, keepdims=True), lifted.max(0, keepdims=True)


def _code_index(dim: int, codec: Codec) -> faiss.Index:
    if codec == "float":
        return faiss.IndexFlatIP(dim)
    qtype = faiss.ScalarQuantizer.QT_8bit if codec == "sq8" else faiss.ScalarQuantizer.QT_fp16
    return faiss.IndexScalarQuantizer(dim, qtype, faiss.METRIC_INNER_PRODUCT)


class ProjectedFlatIndex:
    """Exact top-k by inner product through a scan of small codes and a certified re-rank.

    Offers the part of FAISS's index interface that :class:`~facegate.store.index.PurposeIndex`
    uses (``ntotal``, ``add``, ``search``, ``reconstruct_n``). Positions are insertion order;
    there is no removal (the owner marks entries dead and rebuilds). Searches do not change
    the index, so concurrent searches are safe.
    """

    def __init__(self, dim: int, rank: int, codec: Codec = "sq8") -> None:
        if not 0 < rank < dim:
            raise ValueError(f"projection rank must be between 1 and {dim - 1}, not {rank}")
        self.dim = dim
        self.rank = rank
        self.codec = codec
        self._basis = np.zeros((rank, dim), dtype=np.float32)
        self._fitted_on = 0
        self._codes = _code_index(rank + 1, codec)
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._size = 0
        self._code_error = 0.0

    @property
    def ntotal(self) -> int:
        return self._size

    def memory_bytes(self) -> int:
        """Full vectors (allocated rows), codes, basis and quantiser tables."""
        if isinstance(self._codes, faiss.IndexScalarQuantizer):
            code_bytes = int(self._codes.codes.size()) + int(self._codes.sq.trained.size()) * 4
        else:
            code_bytes = int(self._codes.ntotal) * (self.rank + 1) * 4
        return self._vectors.nbytes + code_bytes + self._basis.nbytes

    def add(self, vectors: FloatArray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(vectors) == 0:
            return
        self._append(vectors)
        if self._size > 2 * self._fitted_on:
            self._refit()  # fit to the index's own vectors, and again each time it doubles
        else:
            self._encode(vectors)

    def _append(self, vectors: FloatArray) -> None:
        need = self._size + len(vectors)
        if need > len(self._vectors):
            grown = np.empty((max(need, len(self._vectors) * 5 // 4), self.dim), np.float32)
            grown[: self._size] = self._vectors[: self._size]
            self._vectors = grown
        self._vectors[self._size : need] = vectors
        self._size = need

    @classmethod
    def over(cls, vectors: FloatArray, rank: int, codec: Codec = "sq8") -> ProjectedFlatIndex:
        """An index over ``vectors`` (unit rows) that keeps that very array when it is float32
        and C-contiguous, without a copy (10M templates are 5 GB): do not change it afterwards."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = cls(vectors.shape[1], rank, codec)
        if len(vectors):
            index._vectors = vectors
            index._size = len(vectors)
            index._refit()
        return index

    def _refit(self) -> None:
        stored = self._vectors[: self._size]
        self._basis = fit_basis(stored, self.rank)
        self._fitted_on = self._size
        self._codes = _code_index(self.rank + 1, self.codec)
        starts = range(0, self._size, _CHUNK)
        if not self._codes.is_trained:  # 8 bits: each dimension's range over every template
            ranges = [_range(_lifted(stored[i : i + _CHUNK], self._basis)) for i in starts]
            self._codes.train(np.concatenate([low for low, _ in ranges] + [hi for _, hi in ranges]))
        self._code_error = 0.0
        for i in starts:  # one chunk of lifted vectors at a time: bounded extra memory
            self._encode_lifted(_lifted(stored[i : i + _CHUNK], self._basis))

    def _encode(self, vectors: FloatArray) -> None:
        self._encode_lifted(_lifted(vectors, self._basis))

    def _encode_lifted(self, lifted: FloatArray) -> None:
        if self.codec != "float":
            decoded = self._codes.sa_decode(self._codes.sa_encode(lifted))
            error = float(np.linalg.norm(decoded - lifted, axis=1).max(initial=0.0))
            self._code_error = max(self._code_error, error)
        self._codes.add(lifted)

    def reconstruct_n(self, start: int, count: int) -> FloatArray:
        out: FloatArray = self._vectors[start : min(start + count, self._size)].copy()
        return out

    def search(self, queries: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        """Exact top ``k`` (scores, positions) per query, best first; -1 pads a short result."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        positions = np.full((len(queries), k), -1, dtype=np.int64)
        for i, query in enumerate(queries):
            s, p = self._search_one(query, min(k, self._size))
            scores[i, : len(s)], positions[i, : len(p)] = s, p
        return scores, positions

    def _search_one(self, query: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        lifted = _lifted(query[None, :], self._basis)
        slack = self._code_error * float(np.linalg.norm(lifted)) + _ROUNDING
        wanted = min(self._size, max(_FIRST_CANDIDATES, 4 * k))
        while wanted < self._size // _GROWTH:
            bounds, found = self._codes.search(lifted, wanted)
            candidates = found[0][found[0] >= 0]
            exact = self._vectors[candidates] @ query
            order = np.argsort(-exact, kind="stable")[:k]
            if exact[order[-1]] >= bounds[0][-1] + slack:
                return exact[order], candidates[order]
            wanted *= _GROWTH
        exact = self._vectors[: self._size] @ query  # as many candidates as templates: scan all
        top = np.argpartition(-exact, k - 1)[:k] if k < self._size else np.arange(self._size)
        order = top[np.argsort(-exact[top], kind="stable")]
        return exact[order], order.astype(np.int64)
