"""The per-purpose FAISS index: exact and HNSW search, removal, subject dedupe, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from facegate.store.index import IndexParams, PurposeIndex, RWLock, VectorIndex
from facegate.types import FloatArray


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> FloatArray:
    v: FloatArray = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


@pytest.mark.parametrize("hnsw_min_size", [1_000_000, 10])
def test_search_finds_each_subject_and_dedupes(hnsw_min_size: int) -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 200)
    rows = np.repeat(np.arange(100, dtype=np.int64), 2)  # two templates per subject
    index = PurposeIndex(32, IndexParams(hnsw_min_size=hnsw_min_size, large_index="hnsw"))
    index.add(rows, vectors)
    assert index.kind == ("hnsw" if hnsw_min_size == 10 else "flat")
    assert index.subjects == 100 and index.templates == 200
    hits = index.search(vectors[::2], 5)
    assert [h[0].row for h in hits] == list(range(100))
    assert all(len({x.row for x in h}) == len(h) == 5 for h in hits)
    assert hits[0][0].similarity == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("hnsw_min_size", [1_000_000, 10])
def test_remove_drops_all_templates_of_a_subject(hnsw_min_size: int) -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 60)
    rows = np.repeat(np.arange(30, dtype=np.int64), 2)
    index = PurposeIndex(32, IndexParams(hnsw_min_size=hnsw_min_size, large_index="hnsw"))
    index.add(rows, vectors)
    assert index.remove(7) == 2
    assert index.remove(7) == 0
    assert index.subjects == 29 and index.templates == 58
    for hits in index.search(vectors, 29):
        assert 7 not in {h.row for h in hits}
    index.add(np.array([7], dtype=np.int64), vectors[14:15])  # re-added (consent granted again)
    assert index.search(vectors[14:15], 1)[0][0].row == 7
    assert index.subjects == 30


def test_hnsw_rebuilds_after_many_removals() -> None:
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 50)
    index = PurposeIndex(32, IndexParams(hnsw_min_size=10, large_index="hnsw"))
    index.add(np.arange(50, dtype=np.int64), vectors)
    for row in range(20):
        index.remove(row)
    assert index.templates == 30 and index.kind == "hnsw"
    assert index.search(vectors[25:26], 1)[0][0].row == 25


def test_flat_switches_to_hnsw_when_it_grows() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 30)
    index = PurposeIndex(32, IndexParams(hnsw_min_size=20, large_index="hnsw"))
    index.add(np.arange(15, dtype=np.int64), vectors[:15])
    assert index.kind == "flat"
    index.add(np.arange(15, 30, dtype=np.int64), vectors[15:])
    assert index.kind == "hnsw" and index.templates == 30
    assert [h[0].row for h in index.search(vectors, 1)] == list(range(30))


def test_purposes_are_separate_and_empty_purpose_returns_nothing() -> None:
    rng = np.random.default_rng(4)
    vectors = _unit(rng, 4)
    index = VectorIndex()
    index.add("door", 1, vectors[:2])
    index.add("till", 2, vectors[2:])
    assert {h.row for h in index.search("door", vectors, 5)[2]} == {1}
    assert index.search("gym", vectors, 5) == [[], [], [], []]
    assert index.remove_everywhere(1) == 2
    assert index.search("door", vectors, 5) == [[], [], [], []]


def test_concurrent_reads_and_writes_stay_consistent() -> None:
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 400)
    index = VectorIndex()
    index.add("p", 0, vectors[:1])
    errors: list[BaseException] = []

    def writer() -> None:
        for row in range(1, 200):
            index.add("p", row, vectors[row : row + 1])
            if row % 3 == 0:
                index.remove("p", row - 1)

    def reader() -> None:
        try:
            for _ in range(200):
                for hits in index.search("p", vectors[:8], 3):
                    assert len({h.row for h in hits}) == len(hits)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert index.stats()["p"].subjects == 200 - 66


def test_rwlock_writer_excludes_readers() -> None:
    lock = RWLock()
    state = {"inside": 0, "max_with_writer": 0}
    with lock.read(), lock.read():  # readers share the lock
        pass

    def write() -> None:
        with lock.write():
            state["inside"] += 1
            state["max_with_writer"] = max(state["max_with_writer"], state["inside"])
            state["inside"] -= 1

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["max_with_writer"] == 1
