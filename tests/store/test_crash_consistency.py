"""SIGKILL in the middle of a bulk enrolment leaves a consistent, reopenable store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.gallery.service import Gallery
from facegate.store.sql import DB_FILE_NAME

SCRIPT = Path(__file__).resolve().parent / "gallery_fakes.py"


def _kill_mid_enrolment(data: Path, after: int, delay: float) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(data), "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    done = [proc.stdout.readline().strip() for _ in range(after)]
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    return [d for d in done if d]


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.047])
def test_store_is_consistent_after_sigkill(tmp_path: Path, delay: float) -> None:
    done = _kill_mid_enrolment(tmp_path, after=5, delay=delay)
    assert len(done) == 5
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        per_subject = db.execute(
            "SELECT s.id, count(t.id) FROM subjects s LEFT JOIN templates t "
            "ON t.subject_row = s.row GROUP BY s.row"
        ).fetchall()
    counts = dict(per_subject)
    assert all(counts[s] == 3 for s in done)
    assert set(counts.values()) <= {0, 3}  # one enrol call is one transaction

    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        for subject in gallery.subjects():
            assert len(gallery.store.subject_vectors(subject.id, "fake-v1")) == counts[subject.id]
        person = len(done)  # the next person the script was working on, if it got that far
        for subject in gallery.subjects():
            if counts[subject.id] == 0 and subject.display_name == f"person {person}":
                images = [face_image(person, v) for v in range(3)]
                if subject.id in {s.id for s in gallery.subjects("door")}:
                    assert len(gallery.enroll(subject.id, images, "door").added) == 3
        stats = gallery.index_stats()["door"]
        assert stats.subjects >= len(done)
        for i in range(len(done)):
            match = gallery.identify(face_image(i, 9), "door").faces[0].match
            assert match is not None and match.subject.id == done[i]
