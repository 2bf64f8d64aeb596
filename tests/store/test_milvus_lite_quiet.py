"""Milvus Lite's two missing RPCs leave nothing on stderr; every other message still does."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from facegate.store.milvus import _LITE_NOISE, is_lite

needs_milvus = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("pymilvus", "milvus_lite")),
    reason="pymilvus/milvus-lite not installed: pip install 'facegate[milvus]'",
)

SCRIPT = """
import logging, sys
import numpy as np
logging.basicConfig(level=logging.INFO)  # as the CLI and server do: every logger to stderr
from facegate.store.milvus import MilvusIndex, MilvusParams
index = MilvusIndex(MilvusParams(sys.argv[1], index_type="FLAT"), lambda: "fake-v1")
vectors = np.eye(4, 8, dtype=np.float32)
index.add("door", 1, vectors[:2])  # creates the collection and its index
index.load("door", [(np.array([1, 1]), vectors[:2])])  # lists the purpose's ids (iterator)
assert [h.row for h in index.search("door", vectors[:1], 3)[0]] == [1]
index.close()
"""


@needs_milvus
def test_a_milvus_lite_index_writes_nothing_on_stderr(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "milvus.db")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    noisy = [line for line in done.stderr.splitlines() if "grpc" in line or "mvccTs" in line]
    assert noisy == [], done.stderr


def _record(name: str, msg: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), exc_info)


def test_only_the_two_known_messages_are_dropped() -> None:
    missing = NotImplementedError("Method not implemented!")
    assert not _LITE_NOISE.filter(_record("grpc._server", "Exception calling", missing))
    assert _LITE_NOISE.filter(_record("grpc._server", "Exception calling", RuntimeError("x")))
    iterator = "pymilvus.client.iterator.query_iterator"
    assert not _LITE_NOISE.filter(_record(iterator, "failed to get mvccTs from milvus server"))
    assert _LITE_NOISE.filter(_record(iterator, "query iterator failed"))
    assert is_lite("/data/milvus.db") and not is_lite("http://milvus:19530")
