"""Other processes on the same store: what they write is seen here by the next search, two
writers at once keep every row and one unbroken audit chain, kill -9 mid-enrolment leaves
a consistent store."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from contract_backend import Backend, run_worker, start_worker
from gallery_fakes import who
from sqlalchemy import text

pytestmark = pytest.mark.slow


def test_revocation_and_erasure_elsewhere_count_by_the_next_search(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
        assert who(gallery, 5) is None  # this process's index is loaded (and empty)
        (ann,) = run_worker(backend, "enrol", "5", "1")
        assert who(gallery, 5) == ann
        run_worker(backend, "revoke", ann)
        assert who(gallery, 5) is None
        gallery.grant_consent(ann, "door", "asked again")
        assert who(gallery, 5) == ann
        run_worker(backend, "erase", ann)
        assert who(gallery, 5) is None


def _start_together(backend: Backend, go: Path, *commands: tuple[str, ...]) -> list[list[str]]:
    procs = [start_worker(backend, *command, str(go)) for command in commands]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(out.splitlines())
    return outputs


def _chain_facts(backend: Backend) -> tuple[int, int, int, int]:
    engine = backend.engine()
    try:
        with engine.connect() as conn:
            records, links, top = conn.execute(
                text("SELECT count(*), count(DISTINCT prev_mac), max(seq) FROM audit_chain")
            ).one()
            changes = conn.execute(text("SELECT count(*) - max(seq) FROM change_feed")).scalar()
        return int(records), int(links), int(top), int(changes or 0)
    finally:
        engine.dispose()


def test_two_writer_processes_at_once(backend: Backend, tmp_path: Path) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
    a, b = _start_together(backend, tmp_path / "go", ("enrol", "100", "12"), ("enrol", "200", "12"))
    records, links, top, gaps = _chain_facts(backend)
    assert records == links == top  # every record has its own predecessor, seq 1..n
    assert gaps == 0  # change feed numbered 1..n without a gap
    with backend.gallery() as gallery:
        assert gallery.audit.verify().ok
        assert len(gallery.subjects("door")) == 24
        for first, ids in ((100, a), (200, b)):
            for offset, subject_id in enumerate(ids):
                assert who(gallery, first + offset) == subject_id


def test_audit_appends_from_two_processes_form_one_chain(backend: Backend, tmp_path: Path) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
    _start_together(backend, tmp_path / "go", ("audit", "150"), ("audit", "150"))
    records, links, top, _ = _chain_facts(backend)
    assert records == links == top >= 300
    with backend.gallery() as gallery:
        check = gallery.audit.verify()
        assert check.ok, check.problem
        owners = {r.key_id for r in gallery.audit.records(operation="test.append")}
        assert len(owners) == 2


def test_first_opens_of_a_new_store_at_once(backend: Backend, tmp_path: Path) -> None:
    backend.home.mkdir(parents=True)
    with backend.gallery(preload=False):
        pass  # the master key file, as a deployment provisions it before starting workers
    if backend.url is not None:
        engine = backend.engine()
        with engine.begin() as conn:  # an empty database again: the workers migrate it
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        for extra in ("", "-wal", "-shm"):
            (backend.home / f"gallery.db{extra}").unlink(missing_ok=True)
    outputs = _start_together(backend, tmp_path / "go", ("open",), ("open",), ("open",))
    assert [out for out in outputs] == [["opened 1"]] * 3
    with backend.gallery() as gallery:
        assert gallery.audit.verify().ok


def test_kill_9_during_enrolment_leaves_a_consistent_store(backend: Backend) -> None:
    with backend.gallery() as gallery:
        gallery.add_purpose("door")
    proc = start_worker(backend, "enrol", "300", "1000")
    assert proc.stdout is not None
    done = [proc.stdout.readline().strip() for _ in range(4)]
    time.sleep(0.03)  # into the next enrolment's transactions
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    engine = backend.engine()
    with engine.connect() as conn:
        per_subject = dict(
            conn.execute(
                text(
                    "SELECT s.id, count(t.id) FROM subjects s LEFT JOIN templates t "
                    "ON t.subject_row = s.row GROUP BY s.id"
                )
            ).all()
        )
        orphans = conn.execute(
            text(
                "SELECT count(*) FROM templates t WHERE NOT EXISTS "
                "(SELECT 1 FROM subjects s WHERE s.row = t.subject_row)"
            )
        ).scalar_one()
    engine.dispose()
    assert orphans == 0
    assert all(per_subject[s] == 2 for s in done)
    assert set(per_subject.values()) <= {0, 2}  # one enrol call is one transaction
    with backend.gallery() as gallery:
        assert gallery.audit.verify().ok
        for offset, subject_id in enumerate(done):
            assert who(gallery, 300 + offset) == subject_id
        run_worker(backend, "enrol", "900", "1")  # the store takes writes again
