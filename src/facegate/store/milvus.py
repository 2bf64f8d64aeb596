"""Vector search on Milvus: one collection per model pack, the purpose as its partition key.

:class:`MilvusIndex` offers the same operations as the in-process
:class:`~facegate.store.index.VectorIndex` (the :class:`~facegate.store.index.SearchIndex`
protocol), so the gallery uses either. The vectors live in Milvus, not in this process: a
``.db`` path is embedded Milvus Lite (``milvus-lite``, tests and one machine), an
``http(s)://`` URI a Milvus standalone or cluster shared by every worker.

Layout: the collection ``facegate_<pack>_<hash>`` holds one entity per template and purpose:
``id`` (a 63-bit hash of purpose, subject row and vector, so that writing the same template
twice, from two workers applying the same change, leaves one entity), ``row`` (the subject's
store row), ``purpose`` (the partition key: a search filtered on it reads only that purpose's
partition) and ``vector`` (inner product on unit vectors: cosine). Every search carries the
filter ``purpose == "<purpose>"``, so it cannot return a template stored for another purpose;
it groups by ``row`` so each subject comes back once, with its best template's score. The
gallery still re-checks every candidate's consent in the store, as with FAISS.

Consistency: collections are created, written and searched at ``Strong`` consistency, so an
enrolment or erasure is visible to the next search of any worker. :meth:`MilvusIndex.load`
reconciles a purpose with the store (upsert what the store holds, delete what it no longer
does) instead of dropping it first, so searches never see an empty purpose while a worker
starts. Subject counts per purpose (which set the open-set threshold) are kept by each process
from the writes it applies, as the in-process index does.

Milvus Lite (pure Python, in this process) implements neither ``AllocTimestamp`` (which
pymilvus calls after creating an index) nor the session timestamp of a query (which pymilvus's
query iterator asks for): its gRPC server logs each as an error with a traceback, and pymilvus
warns on stderr and uses a client-side timestamp, which is right for a store in one process.
For a Milvus Lite URI those two known messages, and only those, are dropped
(:class:`_LiteNoise`); a Milvus server never sends them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from facegate.errors import ConfigError, StoreError
from facegate.store.index import Hit, IndexStats
from facegate.store.protocol import IntArray
from facegate.types import FloatArray

if TYPE_CHECKING:
    from pymilvus import MilvusClient

_WRITE_BATCH = 2_000
_SEARCH_LIMIT = 16_384  # Milvus's largest topk
_ID_MASK = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class MilvusParams:
    """Where Milvus is and how the collections are indexed (``GalleryConfig.milvus``)."""

    uri: str
    token: str = ""
    db_name: str = ""
    collection_prefix: str = "facegate"
    index_type: str = "AUTOINDEX"
    index_params: tuple[tuple[str, Any], ...] = ()
    search_params: tuple[tuple[str, Any], ...] = ()


def collection_name(prefix: str, pack: str) -> str:
    """A Milvus collection name for ``pack``: letters, digits, ``_``; distinct per pack id."""
    safe = re.sub(r"[^0-9A-Za-z_]", "_", pack)[:64]
    digest = hashlib.sha256(pack.encode()).hexdigest()[:8]
    return f"{prefix}_{safe}_{digest}"


def template_ids(purpose: str, rows: IntArray, vectors: FloatArray) -> list[int]:
    """One stable 63-bit id per (purpose, row, vector)."""
    out = []
    for row, vector in zip(rows.tolist(), vectors, strict=True):
        h = hashlib.blake2b(digest_size=8)
        h.update(purpose.encode())
        h.update(int(row).to_bytes(8, "little", signed=True))
        h.update(np.ascontiguousarray(vector, dtype=np.float32).tobytes())
        out.append(int.from_bytes(h.digest(), "little") & _ID_MASK)
    return out


def _quote(text: str) -> str:
    return json.dumps(text)  # a double-quoted string literal with escapes, as Milvus reads


@contextmanager
def _errors(action: str) -> Iterator[None]:
    """pymilvus's errors as :class:`StoreError` (the gallery's callers handle that tree)."""
    from pymilvus import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise StoreError(f"Milvus {action} failed: {exc}") from exc


class _LiteNoise(logging.Filter):
    """Drops the two messages Milvus Lite's missing RPCs cause (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "grpc._server":
            error = record.exc_info[1] if record.exc_info else None
            return not isinstance(error, NotImplementedError)
        return not str(record.msg).startswith("failed to get mvccTs")


_LITE_NOISE = _LiteNoise()
_NOISY = ("grpc._server", "pymilvus.client.iterator.query_iterator")


def is_lite(uri: str) -> bool:
    """Whether ``uri`` names an embedded Milvus Lite file rather than a Milvus server."""
    return "://" not in uri


def _connect(params: MilvusParams) -> MilvusClient:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise ConfigError(
            "the milvus vector backend needs pymilvus: pip install 'facegate[milvus]'"
        ) from exc
    if is_lite(params.uri):
        for name in _NOISY:
            if _LITE_NOISE not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(_LITE_NOISE)
    kwargs: dict[str, Any] = {"uri": params.uri}
    if params.token:
        kwargs["token"] = params.token
    if params.db_name:
        kwargs["db_name"] = params.db_name
    try:
        return MilvusClient(**kwargs)
    except Exception as exc:  # pymilvus raises its own tree and gRPC/OS errors alike
        raise StoreError(f"cannot connect to Milvus at {params.uri}: {exc}") from exc


class MilvusIndex:
    """Per-purpose vector search in one Milvus collection per pack (see the module doc)."""

    def __init__(
        self,
        params: MilvusParams,
        pack_of: Callable[[], str],
        client: MilvusClient | None = None,
    ) -> None:
        self._params = params
        self._pack_of = pack_of
        self._client = client if client is not None else _connect(params)
        self._collection: str | None = None
        self._dim: int | None = None
        self._counts: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()

    # collection

    def _ensure(self, dim: int | None) -> str | None:
        """The collection's name, created for ``dim`` on first write; None: none exists yet."""
        if self._collection is not None:
            if dim is not None and dim != self._dim:
                raise StoreError(f"vectors of {dim} dimensions for a {self._dim}-d collection")
            return self._collection
        name = collection_name(self._params.collection_prefix, self._pack_of())
        client = self._client
        if client.has_collection(name):
            self._dim = self._existing_dim(name)
            client.load_collection(name)  # a collection another process made may be released
            self._collection = name
            return self._ensure(dim)
        if dim is None:
            return None
        client.create_collection(
            name, schema=self._schema(dim), index_params=self._index(), consistency_level="Strong"
        )
        self._collection, self._dim = name, dim
        return name

    def _existing_dim(self, name: str) -> int:
        for field in self._client.describe_collection(name)["fields"]:
            if field["name"] == "vector":
                return int(field["params"]["dim"])
        raise StoreError(f"Milvus collection {name} has no 'vector' field")

    def _schema(self, dim: int) -> Any:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("row", DataType.INT64)
        schema.add_field("purpose", DataType.VARCHAR, max_length=64, is_partition_key=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        return schema

    def _index(self) -> Any:
        index = self._client.prepare_index_params()
        index.add_index(
            "vector",
            index_type=self._params.index_type,
            metric_type="IP",
            params=dict(self._params.index_params),
        )
        return index

    # writes

    def _upsert(self, name: str, purpose: str, rows: IntArray, vectors: FloatArray) -> list[int]:
        ids = template_ids(purpose, rows, vectors)
        for start in range(0, len(ids), _WRITE_BATCH):
            stop = start + _WRITE_BATCH
            batch = [
                {"id": i, "row": int(r), "purpose": purpose, "vector": v.tolist()}
                for i, r, v in zip(
                    ids[start:stop], rows[start:stop], vectors[start:stop], strict=True
                )
            ]
            self._client.upsert(name, batch)
        return ids

    def load(self, purpose: str, batches: Iterable[tuple[IntArray, FloatArray]]) -> None:
        """Make ``purpose``'s entities what the store holds: upsert them, delete the rest."""
        with _errors("load"):
            self._load(purpose, batches)

    def _load(self, purpose: str, batches: Iterable[tuple[IntArray, FloatArray]]) -> None:
        counts: dict[int, int] = {}
        kept: set[int] = set()
        name: str | None = None
        for rows, vectors in batches:
            if len(rows) == 0:
                continue
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            name = self._ensure(vectors.shape[1])
            if name is None:
                continue
            kept.update(self._upsert(name, purpose, rows, vectors))
            for row, n in zip(*np.unique(rows, return_counts=True), strict=True):
                counts[int(row)] = counts.get(int(row), 0) + int(n)
        name = name or self._ensure(None)
        if name is not None:
            self._client.flush(name)  # seal what was written: searched by index, not scanned
            stale = [i for i in self._purpose_ids(name, purpose) if i not in kept]
            for start in range(0, len(stale), _WRITE_BATCH):
                self._client.delete(name, ids=stale[start : start + _WRITE_BATCH])
        with self._lock:
            self._counts[purpose] = counts

    def _purpose_ids(self, name: str, purpose: str) -> Iterator[int]:
        iterator = self._client.query_iterator(
            name, batch_size=_WRITE_BATCH, filter=f"purpose == {_quote(purpose)}",
            output_fields=["id"],
        )  # fmt: skip
        try:
            while batch := iterator.next():
                yield from (int(entity["id"]) for entity in batch)
        finally:
            iterator.close()

    def add(self, purpose: str, row: int, vectors: FloatArray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        if len(vectors) == 0:
            return
        with _errors("insert"):
            name = self._ensure(vectors.shape[1])
            if name is not None:
                self._upsert(name, purpose, np.full(len(vectors), row, dtype=np.int64), vectors)
        with self._lock:
            counts = self._counts.setdefault(purpose, {})
            counts[row] = counts.get(row, 0) + len(vectors)

    def remove(self, purpose: str, row: int) -> int:
        with _errors("delete"):
            name = self._ensure(None)
            if name is not None:
                where = f"purpose == {_quote(purpose)} and row == {int(row)}"
                self._client.delete(name, filter=where)
        with self._lock:
            return self._counts.get(purpose, {}).pop(row, 0)

    def remove_everywhere(self, row: int) -> int:
        with _errors("delete"):
            name = self._ensure(None)
            if name is not None:
                self._client.delete(name, filter=f"row == {int(row)}")
        with self._lock:
            return sum(counts.pop(row, 0) for counts in self._counts.values())

    # reads

    def search(self, purpose: str, queries: FloatArray, top_k: int) -> list[list[Hit]]:
        """The ``top_k`` best subjects of ``purpose`` per query (best template), best first."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        with _errors("search"):
            name = self._ensure(None)
            if name is None or top_k <= 0 or not self.subjects(purpose):
                return [[] for _ in range(len(queries))]
            found = self._search(name, purpose, queries, top_k)
        return [_hits(per_query, top_k) for per_query in found]

    def _search(
        self, name: str, purpose: str, queries: FloatArray, top_k: int
    ) -> list[list[dict[str, Any]]]:
        found: list[list[dict[str, Any]]] = self._client.search(
            name,
            data=[q.tolist() for q in queries],
            limit=min(top_k, _SEARCH_LIMIT),
            filter=f"purpose == {_quote(purpose)}",
            group_by_field="row",
            output_fields=["row"],
            search_params={"metric_type": "IP", "params": dict(self._params.search_params)},
            consistency_level="Strong",
        )
        return found

    def subjects(self, purpose: str) -> int:
        with self._lock:
            return len(self._counts.get(purpose, {}))

    def stats(self) -> dict[str, IndexStats]:
        kind = f"milvus:{self._params.index_type.lower()}"
        with self._lock:
            return {
                purpose: IndexStats(kind, sum(counts.values()), len(counts), 0)
                for purpose, counts in self._counts.items()
            }

    def close(self) -> None:
        self._client.close()


def _hits(per_query: Sequence[dict[str, Any]], top_k: int) -> list[Hit]:
    hits: list[Hit] = []
    seen: set[int] = set()
    for hit in per_query:  # grouped by row already; the set guards a server that is not
        row = int(hit["entity"]["row"])
        if row not in seen:
            seen.add(row)
            hits.append(Hit(row, float(hit["distance"])))
    hits.sort(key=lambda h: -h.similarity)
    return hits[:top_k]
