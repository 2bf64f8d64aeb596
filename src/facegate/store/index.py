"""In-memory vector search on FAISS: one index per purpose, labels are subject rows.

Each purpose has its own :class:`PurposeIndex` holding the templates of the subjects with an
active consent for it, so a search for a purpose cannot return anyone else. Scores are inner
products of unit vectors (cosine similarity). An index is exact (``IndexFlatIP``) until it
holds more than ``hnsw_min_size`` templates, then ``large_index``: approximate HNSW
(``IndexHNSWFlat``) or ``"projected"``, an exact search that scans small codes of a projection
and re-ranks on the full vectors with a proof that nothing was missed
(:mod:`facegate.store.projected`). Exact indexes delete in place; the large kinds mark deleted
entries dead, skip them in results and are rebuilt once a fifth of them is dead.
:class:`VectorIndex` wraps the per-purpose indexes with a readers-writer lock: many concurrent
searches (FAISS releases the GIL), one writer at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import faiss
import numpy as np

from facegate.store.projected import Codec, ProjectedFlatIndex
from facegate.store.protocol import IntArray
from facegate.types import FloatArray

_DEAD_FRACTION_REBUILD = 0.2
LargeIndex = Literal["hnsw", "projected"]


@dataclass(frozen=True, slots=True)
class IndexParams:
    hnsw_min_size: int = 1_000_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 256
    hnsw_ef_construction: int = 80
    large_index: LargeIndex = "projected"
    projected_rank: int = 63  # codes of 64 dimensions: FAISS's SIMD paths want multiples of 16
    projected_codec: Codec = "fp16"


@dataclass(frozen=True, slots=True)
class Hit:
    """One subject found by a search: its store row and best similarity."""

    row: int
    similarity: float


@dataclass(frozen=True, slots=True)
class IndexStats:
    kind: str
    templates: int
    subjects: int
    memory_bytes: int


class SearchIndex(Protocol):
    """What the gallery needs of a vector index: per-purpose templates labelled by subject row.

    Implemented in process by :class:`VectorIndex` (FAISS) and, with the vectors in a Milvus
    server or Milvus Lite, by :class:`facegate.store.milvus.MilvusIndex`. A search only ever
    returns subjects whose templates were added for that purpose; the caller still re-checks
    consent in the store.
    """

    def load(self, purpose: str, batches: Iterable[tuple[IntArray, FloatArray]]) -> None:
        """Make ``purpose`` hold exactly these templates (``rows[i]`` labels ``vectors[i]``)."""
        ...

    def add(self, purpose: str, row: int, vectors: FloatArray) -> None: ...

    def remove(self, purpose: str, row: int) -> int:
        """Drop every template of subject ``row`` from ``purpose``; how many were dropped."""
        ...

    def remove_everywhere(self, row: int) -> int: ...

    def search(self, purpose: str, queries: FloatArray, top_k: int) -> list[list[Hit]]:
        """Per query, the ``top_k`` best subjects (best template's score), best first."""
        ...

    def subjects(self, purpose: str) -> int: ...

    def stats(self) -> dict[str, IndexStats]: ...

    def close(self) -> None: ...


class RWLock:
    """A readers-writer lock that lets a waiting writer in before new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class PurposeIndex:
    """The templates of one purpose. Not thread-safe by itself; see :class:`VectorIndex`."""

    def __init__(self, dim: int, params: IndexParams) -> None:
        self.dim = dim
        self._params = params
        self.ef_search = params.hnsw_ef_search  # HNSW search breadth; may be tuned at run time
        self._index: faiss.Index | ProjectedFlatIndex = faiss.IndexFlatIP(dim)
        self._labels = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._dead = 0
        self._subjects = 0

    @property
    def kind(self) -> str:
        if isinstance(self._index, ProjectedFlatIndex):
            return "projected"
        return "hnsw" if self.is_hnsw else "flat"

    @property
    def is_hnsw(self) -> bool:
        return isinstance(self._index, faiss.IndexHNSWFlat)

    @property
    def is_large(self) -> bool:
        """A large kind: deleted entries are marked dead, not removed in place."""
        return not isinstance(self._index, faiss.IndexFlat)

    @property
    def templates(self) -> int:
        return int(self._index.ntotal) - self._dead

    @property
    def subjects(self) -> int:
        return self._subjects

    def memory_bytes(self) -> int:
        """Bytes held by the search structure (vectors, codes, links) and the label arrays."""
        labels = self._labels.nbytes + self._alive.nbytes
        if isinstance(self._index, ProjectedFlatIndex):
            return self._index.memory_bytes() + labels
        vectors = int(self._index.ntotal) * self.dim * 4
        links = 0
        if self.is_hnsw:
            hnsw = self._index.hnsw  # type: ignore[attr-defined]
            links = (hnsw.neighbors.size() * 4) + (hnsw.offsets.size() * 8)
            links += hnsw.levels.size() * 4
        return vectors + links + labels

    def add(self, rows: IntArray, vectors: FloatArray) -> None:
        """Append templates; ``rows[i]`` is the subject row of ``vectors[i]``."""
        if len(rows) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        unique = np.unique(rows)
        if len(unique) == 1:
            new_subjects = 0 if self.contains(int(unique[0])) else 1
        else:
            new_subjects = len(np.setdiff1d(unique, self._alive_labels(), assume_unique=True))
        if not self.is_large and self._index.ntotal + len(rows) > self._params.hnsw_min_size:
            self._rebuild(extra_rows=rows, extra_vectors=vectors, large=True)
        else:
            self._index.add(vectors)
            self._labels = np.concatenate([self._labels, rows.astype(np.int64)])
            self._alive = np.concatenate([self._alive, np.ones(len(rows), dtype=bool)])
        self._subjects += new_subjects

    def remove(self, row: int) -> int:
        """Drop every template of subject ``row``; returns how many were dropped."""
        positions = np.flatnonzero((self._labels == row) & self._alive)
        if len(positions) == 0:
            return 0
        self._subjects -= 1
        if isinstance(self._index, faiss.IndexFlat):
            self._index.remove_ids(faiss.IDSelectorBatch(positions.astype(np.int64)))
            self._labels = np.delete(self._labels, positions)
            self._alive = np.delete(self._alive, positions)
        else:
            self._alive[positions] = False
            self._dead += len(positions)
            if self._dead > _DEAD_FRACTION_REBUILD * self._index.ntotal:
                self._rebuild(large=self.templates > self._params.hnsw_min_size)
        return len(positions)

    def contains(self, row: int) -> bool:
        return bool(np.any((self._labels == row) & self._alive))

    def _alive_labels(self) -> IntArray:
        return np.unique(self._labels[self._alive])

    def _rebuild(
        self,
        extra_rows: IntArray | None = None,
        extra_vectors: FloatArray | None = None,
        *,
        large: bool,
    ) -> None:
        keep = np.flatnonzero(self._alive)
        vectors = self._index.reconstruct_n(0, int(self._index.ntotal))[keep]
        labels = self._labels[keep]
        if extra_rows is not None and extra_vectors is not None:
            vectors = np.concatenate([vectors, extra_vectors])
            labels = np.concatenate([labels, extra_rows.astype(np.int64)])
        self._index = self._new_index(large)
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._labels = labels
        self._alive = np.ones(len(labels), dtype=bool)
        self._dead = 0

    def _new_index(self, large: bool) -> faiss.Index | ProjectedFlatIndex:
        if not large:
            return faiss.IndexFlatIP(self.dim)
        if self._params.large_index == "projected":
            return ProjectedFlatIndex(
                self.dim,
                min(self._params.projected_rank, self.dim - 1),
                self._params.projected_codec,
            )
        index = faiss.IndexHNSWFlat(self.dim, self._params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self._params.hnsw_ef_construction
        index.hnsw.efSearch = self._params.hnsw_ef_search
        return index

    def search(self, queries: FloatArray, top_k: int) -> list[list[Hit]]:
        """The ``top_k`` best subjects per query (best template score), best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        ntotal = int(self._index.ntotal)
        if ntotal == 0 or top_k <= 0:
            return [[] for _ in range(len(queries))]
        k = min(ntotal, 4 * top_k + 8)
        while True:
            scores, positions = self._search_k(queries, k)
            hits = [self._collect(s, p, top_k) for s, p in zip(scores, positions, strict=True)]
            if k >= ntotal or all(len(h) >= min(top_k, self._subjects) for h in hits):
                return hits
            k = min(ntotal, 4 * k)

    def _search_k(self, queries: FloatArray, k: int) -> tuple[FloatArray, IntArray]:
        if isinstance(self._index, faiss.IndexHNSWFlat):
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = max(self.ef_search, k)
            scores, positions = self._index.search(queries, k, params=params)
        else:
            scores, positions = self._index.search(queries, k)
        return scores, positions

    def _collect(self, scores: FloatArray, positions: IntArray, top_k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[int] = set()
        for score, pos in zip(scores.tolist(), positions.tolist(), strict=True):
            if pos < 0 or not self._alive[pos]:
                continue
            row = int(self._labels[pos])
            if row in seen:
                continue
            seen.add(row)
            hits.append(Hit(row, float(score)))
            if len(hits) == top_k:
                break
        return hits


class VectorIndex:
    """Per-purpose indexes behind a readers-writer lock."""

    def __init__(self, params: IndexParams | None = None) -> None:
        self._params = params or IndexParams()
        self._purposes: dict[str, PurposeIndex] = {}
        self._lock = RWLock()

    def load(self, purpose: str, batches: Iterable[tuple[IntArray, FloatArray]]) -> None:
        """Replace ``purpose``'s index with the given templates (built outside the lock)."""
        fresh: PurposeIndex | None = None
        for rows, vectors in batches:
            fresh = fresh or PurposeIndex(vectors.shape[1], self._params)
            fresh.add(rows, vectors)
        with self._lock.write():
            if fresh is None:
                self._purposes.pop(purpose, None)
            else:
                self._purposes[purpose] = fresh

    def add(self, purpose: str, row: int, vectors: FloatArray) -> None:
        rows = np.full(len(vectors), row, dtype=np.int64)
        with self._lock.write():
            index = self._purposes.get(purpose)
            if index is None:
                index = self._purposes[purpose] = PurposeIndex(vectors.shape[1], self._params)
            index.add(rows, vectors)

    def remove(self, purpose: str, row: int) -> int:
        with self._lock.write():
            index = self._purposes.get(purpose)
            return index.remove(row) if index is not None else 0

    def remove_everywhere(self, row: int) -> int:
        with self._lock.write():
            return sum(index.remove(row) for index in self._purposes.values())

    def search(self, purpose: str, queries: FloatArray, top_k: int) -> list[list[Hit]]:
        with self._lock.read():
            index = self._purposes.get(purpose)
            if index is None:
                return [[] for _ in range(len(np.atleast_2d(queries)))]
            return index.search(queries, top_k)

    def subjects(self, purpose: str) -> int:
        with self._lock.read():
            index = self._purposes.get(purpose)
            return index.subjects if index is not None else 0

    def close(self) -> None:
        """Nothing to release: the indexes are this process's memory."""

    def stats(self) -> dict[str, IndexStats]:
        with self._lock.read():
            return {
                name: IndexStats(index.kind, index.templates, index.subjects, index.memory_bytes())
                for name, index in self._purposes.items()
            }
