"""One contract for every vector index the gallery can use: FAISS in process and Milvus.

Milvus runs as Milvus Lite (``milvus-lite``, embedded, on a ``.db`` path under ``tmp_path``),
driven through pymilvus exactly as a Milvus standalone or cluster would be; the cases skip
with the reason when pymilvus or milvus-lite is not installed (the ``milvus`` extra).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import PACK, FakeEngine, face_image

from facegate.config import GalleryConfig, MilvusConfig
from facegate.gallery.service import Gallery
from facegate.gallery.vectors import open_search_index
from facegate.store.crypto import MasterKey
from facegate.store.index import SearchIndex
from facegate.store.protocol import IntArray, NewTemplate
from facegate.store.sql import SqlStore
from facegate.types import FloatArray

HAVE_MILVUS = all(importlib.util.find_spec(m) for m in ("pymilvus", "milvus_lite"))
needs_milvus = pytest.mark.skipif(
    not HAVE_MILVUS, reason="pymilvus/milvus-lite not installed: pip install 'facegate[milvus]'"
)
BACKENDS = ["faiss", pytest.param("milvus", marks=needs_milvus)]
DIM = 32

Factory = Callable[[], SearchIndex]


def config_for(backend: str, home: Path) -> GalleryConfig:
    if backend == "faiss":
        return GalleryConfig()
    return GalleryConfig(vector_backend="milvus", milvus=MilvusConfig(index_type="FLAT"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_index(backend: str, tmp_path: Path) -> Iterator[Factory]:
    """Opens indexes of ``backend``; Milvus ones share one Milvus Lite file (one server)."""
    opened: list[SearchIndex] = []

    def make() -> SearchIndex:
        index = open_search_index(config_for(backend, tmp_path), lambda: PACK, tmp_path)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


def _unit(rng: np.random.Generator, n: int) -> FloatArray:
    v: FloatArray = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _rows(*values: int) -> IntArray:
    return np.array(values, dtype=np.int64)


def _fill(index: SearchIndex, purpose: str, vectors: FloatArray, per_subject: int = 2) -> None:
    for row in range(len(vectors) // per_subject):
        index.add(purpose, row, vectors[row * per_subject : (row + 1) * per_subject])


def test_search_finds_each_subject_once_with_its_best_template(make_index: Factory) -> None:
    index = make_index()
    vectors = _unit(np.random.default_rng(0), 80)
    _fill(index, "door", vectors)
    assert index.subjects("door") == 40 and index.stats()["door"].templates == 80
    hits = index.search("door", vectors[::2], 5)
    assert [h[0].row for h in hits] == list(range(40))
    assert all(len({x.row for x in h}) == len(h) == 5 for h in hits)
    assert all(h[i].similarity >= h[i + 1].similarity for h in hits for i in range(4))
    assert hits[0][0].similarity == pytest.approx(1.0, abs=1e-5)
    exact = (vectors @ vectors[1]).reshape(40, 2).max(axis=1)  # best template per subject
    assert [h.row for h in index.search("door", vectors[1], 3)[0]] == list(np.argsort(-exact)[:3])


def test_remove_drops_every_template_and_re_add_works(make_index: Factory) -> None:
    index = make_index()
    vectors = _unit(np.random.default_rng(1), 60)
    _fill(index, "door", vectors)
    assert index.remove("door", 7) == 2
    assert index.remove("door", 7) == 0
    assert index.subjects("door") == 29
    for hits in index.search("door", vectors, 29):
        assert 7 not in {h.row for h in hits}
    index.add("door", 7, vectors[14:15])
    assert index.search("door", vectors[14:15], 1)[0][0].row == 7
    assert index.subjects("door") == 30


def test_search_is_scoped_to_its_purpose(make_index: Factory) -> None:
    index = make_index()
    vectors = _unit(np.random.default_rng(2), 20)
    index.add("door", 1, vectors[0:2])
    index.add("till", 2, vectors[2:4])
    (till,) = index.search("till", vectors[0:1], 5)
    assert [h.row for h in till] == [2]  # door's subject is nearer, but not till's
    assert {h.row for h in index.search("door", vectors[:4], 5)[0]} == {1}
    assert index.search("gate", vectors[:2], 5) == [[], []]  # a purpose never written
    assert index.remove_everywhere(1) == 2 and index.remove_everywhere(2) == 2
    assert index.search("door", vectors[:1], 5) == [[]]
    assert index.search("till", vectors[:1], 5) == [[]]


def test_load_replaces_a_purpose_and_leaves_the_others(make_index: Factory) -> None:
    index = make_index()
    vectors = _unit(np.random.default_rng(3), 40)
    _fill(index, "door", vectors[:20])
    index.add("till", 99, vectors[20:22])
    index.load("door", [(_rows(50, 50, 51), vectors[30:33])])
    assert index.subjects("door") == 2
    assert {h.row for h in index.search("door", vectors[:33], 10)[0]} == {50, 51}
    assert index.search("door", vectors[30:31], 1)[0][0].row == 50
    assert index.search("till", vectors[20:21], 1)[0][0].row == 99
    index.load("door", [])
    assert index.search("door", vectors[30:31], 1) == [[]] and index.subjects("door") == 0


def test_rebuild_from_the_store_follows_consent(make_index: Factory, tmp_path: Path) -> None:
    store = SqlStore.open_sqlite(tmp_path, MasterKey(b"k" * 32, "test"))
    store.add_purpose("door")
    vectors = _unit(np.random.default_rng(4), 12)
    ids = []
    for person in range(6):
        subject = store.create_subject(f"p{person}")
        store.grant_consent(subject.id, "door", "form")
        pair = vectors[2 * person : 2 * person + 2]
        store.add_templates(
            subject.id, [NewTemplate(v, PACK, f"{person}-{i}") for i, v in enumerate(pair)], "door"
        )
        ids.append(subject)
    index = make_index()
    index.load("door", store.iter_purpose_vectors("door", PACK))
    assert index.subjects("door") == 6
    assert index.search("door", vectors[4:5], 1)[0][0].row == ids[2].row
    store.revoke_consent(ids[2].id, "door")
    store.erase_subject(ids[3].id)
    index.load("door", store.iter_purpose_vectors("door", PACK))
    found = {h.row for h in index.search("door", vectors, 6)[0]}
    assert found == {s.row for s in ids} - {ids[2].row, ids[3].row}
    store.close()


@needs_milvus
def test_two_workers_share_one_milvus_collection(tmp_path: Path) -> None:
    """Milvus only: FAISS indexes are per process by design (the change feed keeps them in step)."""
    config = config_for("milvus", tmp_path)
    first, second = (open_search_index(config, lambda: PACK, tmp_path) for _ in range(2))
    vectors = _unit(np.random.default_rng(5), 10)
    first.add("door", 3, vectors[:2])
    second.load("door", [(_rows(3, 3), vectors[:2])])  # a worker starting: reconciles, no copy
    assert second.search("door", vectors[:1], 2)[0][0].row == 3
    first.remove("door", 3)
    assert second.search("door", vectors[:1], 2) == [[]]
    first.close()
    second.close()


def _enrol(gallery: Gallery, people: range) -> list[str]:
    gallery.add_purpose("door")
    ids = []
    for person in people:
        subject = gallery.create_subject(f"person {person}")
        gallery.grant_consent(subject.id, "door", "form")
        gallery.enroll(subject.id, [face_image(person, 0), face_image(person, 1)], "door")
        ids.append(subject.id)
    return ids


def _who(gallery: Gallery, person: int, variant: int = 7) -> str | None:
    face = gallery.identify(face_image(person, variant), "door").faces[0]
    return face.match.subject.display_name if face.match else None


def test_gallery_on_each_backend_enrols_identifies_erases_and_reopens(
    backend: str, tmp_path: Path
) -> None:
    config = config_for(backend, tmp_path)
    with Gallery.open(tmp_path, engine=FakeEngine(), config=config) as gallery:
        ids = _enrol(gallery, range(8))
        assert _who(gallery, 3) == "person 3" and _who(gallery, 300) is None
        gallery.revoke_consent(ids[4], "door")
        gallery.erase(ids[5])
        assert _who(gallery, 4) is None and _who(gallery, 5) is None
        kind = gallery.index_stats()["door"].kind
        assert kind.startswith("milvus") == (backend == "milvus")
    with Gallery.open(tmp_path, engine=FakeEngine(), config=config) as reopened:
        assert reopened.index_stats()["door"].subjects == 6
        assert [_who(reopened, p) for p in (3, 4, 5)] == ["person 3", None, None]


WRITER = """
import sys
import numpy as np
from facegate.store.milvus import MilvusIndex, MilvusParams
index = MilvusIndex(MilvusParams(sys.argv[1], index_type="FLAT"), lambda: "fake-v1")
vectors = np.load(sys.argv[2])
index.add("door", 1, vectors[:2])
index.add("door", 2, vectors[2:4])
index.close()
"""


@needs_milvus
def test_a_new_process_reconciles_what_another_left(tmp_path: Path) -> None:
    """A worker starting on a collection another process wrote (and left released)."""
    vectors = _unit(np.random.default_rng(6), 4)
    np.save(tmp_path / "v.npy", vectors)
    uri = str(tmp_path / "milvus.db")
    subprocess.run(
        [sys.executable, "-c", WRITER, uri, str(tmp_path / "v.npy")], check=True, timeout=300
    )
    index = open_search_index(config_for("milvus", tmp_path), lambda: PACK, tmp_path)
    index.load("door", [(_rows(1, 1), vectors[:2])])  # the store no longer holds subject 2
    assert [h.row for h in index.search("door", vectors[2:3], 5)[0]] == [1]
    index.close()
