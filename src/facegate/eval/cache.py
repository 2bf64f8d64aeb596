"""A cache of what the engine found in each evaluation image, so a rerun is fast.

Entries are keyed by ``(pack id, variant, image SHA-256)``: the pack names the embedding space,
the variant says how the record was made (the task and fallback box, and every engine setting
that changes a record: ``extract.engine_variant``), and
the hash names the image bytes, so a renamed file still hits and an edited one misses. One SQLite
file under the data dir holds them; only the process that owns the cache writes to it (worker
processes return records to it).
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from facegate.types import FloatArray

SCHEMA = """
CREATE TABLE IF NOT EXISTS face_records (
    pack TEXT NOT NULL,
    variant TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (pack, variant, sha256)
)
"""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True, eq=False)
class FaceRecord:
    """What the engine found in one image.

    ``boxes`` is ``(n, 4)`` pixels ``x1, y1, x2, y2``; ``scores`` and ``quality`` (NaN when the
    engine gives none) are ``(n,)``; ``embeddings`` is ``(n, dim)``, or ``(n, 0)`` for a
    detection-only record. ``error`` is set when the image could not be read.
    """

    width: int
    height: int
    boxes: FloatArray
    scores: FloatArray
    embeddings: FloatArray
    quality: FloatArray
    error: str = ""

    @property
    def count(self) -> int:
        return int(self.boxes.shape[0])

    @staticmethod
    def failed(error: str) -> FaceRecord:
        empty = np.zeros((0,), dtype=np.float32)
        return FaceRecord(
            0, 0, np.zeros((0, 4), np.float32), empty, np.zeros((0, 0), np.float32), empty, error
        )

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            size=np.array([self.width, self.height], dtype=np.int64),
            boxes=self.boxes,
            scores=self.scores,
            embeddings=self.embeddings,
            quality=self.quality,
            error=np.array(self.error),
        )
        return buf.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> FaceRecord:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            width, height = (int(v) for v in z["size"])
            return FaceRecord(
                width,
                height,
                z["boxes"].astype(np.float32),
                z["scores"].astype(np.float32),
                z["embeddings"].astype(np.float32),
                z["quality"].astype(np.float32),
                str(z["error"]),
            )


class EmbeddingCache:
    """SQLite-backed ``(pack, variant, sha256) -> FaceRecord`` store."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # autocommit: each write is its own short transaction, so a long run never holds the
        # write lock and two runs can share one cache file
        self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def get(self, pack: str, variant: str, sha256: str) -> FaceRecord | None:
        row = self._db.execute(
            "SELECT data FROM face_records WHERE pack = ? AND variant = ? AND sha256 = ?",
            (pack, variant, sha256),
        ).fetchone()
        return FaceRecord.from_bytes(bytes(row[0])) if row else None

    def put(self, pack: str, variant: str, sha256: str, record: FaceRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO face_records (pack, variant, sha256, data) VALUES (?, ?, ?, ?)",
            (pack, variant, sha256, record.to_bytes()),
        )

    def commit(self) -> None:
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM face_records").fetchone()[0])

    def close(self) -> None:
        self._db.commit()
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
