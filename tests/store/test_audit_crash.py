"""kill -9 at random points of random writes: every write that committed has its audit record.

A real subprocess (``crash_worker.py``) enrols, grants and revokes consent, erases templates,
subjects and purposes, defines purposes and creates and revokes API keys on one data dir until
it is killed with SIGKILL at a random moment; over many rounds the data dir must always hold
exactly the templates, consents, erasures and keys that the audit chain records, and the chain
must verify.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine

from facegate.gallery.service import Gallery
from facegate.privacy.audit import AuditRecord
from facegate.store.sql import DB_FILE_NAME

WORKER = Path(__file__).resolve().parent / "crash_worker.py"
ROUNDS = 12
MAX_ROUNDS = 36
_ADDED = re.compile(r"^added (\d+),")


def _run_and_kill(data: Path, seed: int, delay: float) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent)}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(data), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the worker is up and has written once
    assert first, proc.stderr.read() if proc.stderr else ""
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    return [first, *out.splitlines()]


def _db_facts(data: Path) -> dict[str, object]:
    with sqlite3.connect(data / DB_FILE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        templates = dict(
            db.execute(
                "SELECT s.id, count(t.id) FROM subjects s JOIN templates t "
                "ON t.subject_row = s.row AND t.purpose = 'door' GROUP BY s.id"
            ).fetchall()
        )
        consents = dict(
            db.execute(
                "SELECT s.id, count(*) FROM subjects s JOIN consents c "
                "ON c.subject_row = s.row AND c.purpose = 'door' GROUP BY s.id"
            ).fetchall()
        )
        revoked = dict(
            db.execute(
                "SELECT s.id, count(*) FROM subjects s JOIN consents c ON c.subject_row = s.row "
                "AND c.purpose = 'door' AND c.revoked_at IS NOT NULL GROUP BY s.id"
            ).fetchall()
        )
        subjects = {r[0] for r in db.execute("SELECT id FROM subjects")}
        keys = db.execute("SELECT count(*), count(revoked_at) FROM api_keys").fetchone()
        purposes = {r[0] for r in db.execute("SELECT name FROM purposes")}
    return {
        "templates": templates,
        "consents": consents,
        "revoked": revoked,
        "subjects": subjects,
        "keys": tuple(keys),
        "purposes": purposes,
    }


def _expected(records: list[AuditRecord], ref_of: dict[str, str]) -> dict[str, object]:
    """What the data dir must hold, according to the audit chain alone."""
    by_ref = {ref: sid for sid, ref in ref_of.items()}
    templates: Counter[str] = Counter()
    consents: Counter[str] = Counter()
    revoked: Counter[str] = Counter()
    erased: set[str] = set()
    keys = Counter(r.operation for r in records if r.operation in ("key.create", "key.revoke"))
    last_purpose_op: dict[str, str] = {}
    for r in records:
        ids = [by_ref[x] for x in r.subject_refs if x in by_ref]
        if r.decision.startswith("refused"):
            continue
        if r.operation in ("purpose.define", "erase.purpose") and r.purpose:
            last_purpose_op[r.purpose] = r.operation
        if r.purpose != "door" and r.operation != "erase":
            continue
        for sid in ids:
            if r.operation == "enroll" and (m := _ADDED.match(r.decision)):
                templates[sid] += int(m.group(1))
            elif r.operation == "erase.template":
                templates[sid] -= 1
            elif r.operation == "consent.grant":
                consents[sid] += 1
            elif r.operation == "consent.revoke" and r.decision == "revoked":
                revoked[sid] += 1
            elif r.operation == "erase":
                erased.add(sid)
    return {
        "templates": templates,
        "consents": consents,
        "revoked": revoked,
        "erased": erased,
        "keys": (keys["key.create"], keys["key.revoke"]),
        "defined": {p for p, op in last_purpose_op.items() if op == "purpose.define"},
    }


def _check(data: Path, created: set[str]) -> None:
    facts = _db_facts(data)
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        check = gallery.audit.verify()
        assert check.ok, check.problem
        records = gallery.audit.records()
        ref_of = {sid: gallery.audit.subject_ref(sid) for sid in created | facts["subjects"]}
    want = _expected(records, ref_of)
    present: set[str] = facts["subjects"]
    for sid in present:
        assert facts["templates"].get(sid, 0) == want["templates"][sid], sid
        assert facts["consents"].get(sid, 0) == want["consents"][sid], sid
        assert facts["revoked"].get(sid, 0) == want["revoked"][sid], sid
        assert sid not in want["erased"]
    gone = created - present
    assert gone <= want["erased"] | _purpose_erased(records, {ref_of[s]: s for s in gone})
    assert facts["keys"] == want["keys"]
    assert {p for p in facts["purposes"] if p.startswith("tmp")} == want["defined"]


def _purpose_erased(records: list[AuditRecord], refs: dict[str, str]) -> set[str]:
    """Subjects erased whole because erasing a purpose left them with nothing."""
    return {
        refs[x]
        for r in records
        if r.operation == "erase.purpose" and not r.decision.startswith("refused")
        for x in r.subject_refs
        if x in refs
    }


@pytest.mark.slow
def test_every_committed_write_has_its_audit_record_after_sigkill(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    created: set[str] = set()
    writes = 0
    round_ = 0
    # At least ROUNDS rounds; on a slow machine a few more (bounded) until the workers have
    # really written enough to be cut mid-write many times.
    while round_ < ROUNDS or (writes <= ROUNDS * 5 and round_ < MAX_ROUNDS):
        round_ += 1
        lines = _run_and_kill(tmp_path, seed=round_, delay=rng.uniform(0.05, 1.2))
        created |= {line.split()[1] for line in lines if line.startswith("S ")}
        writes += sum(1 for line in lines if line.startswith("."))
        _check(tmp_path, created)
    assert writes > ROUNDS * 5  # the rounds really wrote (and were cut mid-write)
