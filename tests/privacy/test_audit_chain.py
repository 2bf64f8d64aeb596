"""The audit chain: every operation appends; any edit, deletion, insertion or swap is found.

Tampering is done the way an intruder with write access to the database would do it: with
sqlite3 on the file, without the master key.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gallery_fakes import face_image

from facegate.cli.main import main
from facegate.errors import StoreError
from facegate.gallery.service import Gallery
from facegate.privacy import audit
from facegate.privacy.audit import Actor, AuditEvent, score_band
from facegate.store.schema import AuditRow


def _populate(gallery: Gallery) -> str:
    gallery.add_purpose("door")
    ann = gallery.create_subject("Ann Example", external_id="resident-17")
    gallery.grant_consent(ann.id, "door", text="I agree to open the door by face", method="kiosk")
    gallery.enroll(ann.id, [face_image(0, 0), face_image(0, 1)], "door")
    gallery.identify(face_image(0, 5), "door", actor=Actor("a1b2c3d4e5f6", "req-1"))
    gallery.verify(face_image(0, 6), ann.id, "door")
    gallery.revoke_consent(ann.id, "door")
    return ann.id


def _db(gallery: Gallery) -> Path:
    return Path(str(gallery.store.engine.url.database))  # type: ignore[attr-defined]


def _cli_verify(capsys: pytest.CaptureFixture[str], data: Path) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify", "--data", str(data)])
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


def test_every_operation_appends_a_record_without_names(gallery: Gallery) -> None:
    ann = _populate(gallery)
    records = gallery.audit.records()
    ops = [r.operation for r in records]
    assert ops == ["consent.grant", "enroll", "identify", "verify", "consent.revoke"]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    identify = records[2]
    assert identify.key_id == "a1b2c3d4e5f6" and identify.request_id == "req-1"
    assert identify.decision == "1 known, 0 unknown" and identify.score_band == "0.9-1.0"
    assert identify.subject_refs == (gallery.audit.subject_ref(ann),)
    text = str([r.to_dict() for r in records])
    assert ann not in text and "Ann Example" not in text and "resident-17" not in text
    with pytest.raises(Exception, match="no active consent"):
        gallery.enroll(ann, [face_image(0, 2)], "door")
    refused = gallery.audit.records()[-1]
    assert (refused.operation, refused.decision) == ("enroll", "refused: ConsentRequiredError")
    gallery.erase(ann)
    assert gallery.audit.records()[-1].operation == "erase"
    assert gallery.audit.verify().ok


def test_score_band_is_coarse() -> None:
    assert score_band(0.934) == "0.9-1.0" and score_band(0.61) == "0.6-0.7"
    assert score_band(-0.05) == "-0.1-0.0" or score_band(-0.05) == "0.0-0.1"
    assert score_band(None) is None


def test_the_width_limits_are_the_columns_widths() -> None:
    columns = AuditRow.__table__.columns
    assert columns["key_id"].type.length == audit.KEY_ID_MAX == 64
    assert columns["request_id"].type.length == audit.REQUEST_ID_MAX == 64
    assert columns["operation"].type.length == audit.OPERATION_MAX == 32
    assert columns["purpose"].type.length == audit.PURPOSE_MAX == 64


def test_values_at_the_limit_are_kept_whole(gallery: Gallery) -> None:
    gallery.add_purpose("p" * 64)
    actor = Actor("k" * 64, "r" * 64)
    gallery.record(AuditEvent("o" * 32, "p" * 64, (), "kept whole"), actor)
    record = gallery.audit.records()[-1]
    assert (record.key_id, record.request_id) == ("k" * 64, "r" * 64)
    assert (record.operation, record.purpose) == ("o" * 32, "p" * 64)
    assert gallery.audit.verify().ok


@pytest.mark.parametrize(
    ("make", "field", "length"),
    [
        (lambda: Actor("k" * 65), "key_id", 65),
        (lambda: Actor("cli", "r" * 100), "request_id", 100),
        (lambda: AuditEvent("o" * 33), "operation", 33),
        (lambda: AuditEvent("identify", "p" * 65), "purpose", 65),
    ],
)
def test_too_long_values_are_refused_not_cut(
    gallery: Gallery, make: Callable[[], object], field: str, length: int
) -> None:
    before = gallery.audit.head()
    with pytest.raises(StoreError, match=f"audit {field} is {length} characters long") as info:
        make()
    assert "never shortens" in str(info.value) and "\n" not in str(info.value)
    assert gallery.audit.head() == before  # nothing was written


def test_untouched_chain_verifies(
    gallery: Gallery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(gallery)
    check = gallery.audit.verify()
    assert check.ok and check.records == 5 and check.first_bad is None
    assert gallery.audit.verify(anchor=gallery.audit.head()).ok
    code, out = _cli_verify(capsys, tmp_path / "data")
    assert code == 0 and "audit chain OK: 5 records" in out


@pytest.mark.parametrize(
    ("tamper", "first_bad", "words"),
    [
        ("UPDATE audit_chain SET decision = '0 known, 1 unknown' WHERE seq = 3", 3, "MAC"),
        ("UPDATE audit_chain SET key_id = 'someone-else' WHERE seq = 2", 2, "MAC"),
        ("DELETE FROM audit_chain WHERE seq = 3", 3, "missing"),
        ("DELETE FROM audit_chain WHERE seq IN (2, 3)", 2, "missing"),
    ],
    ids=["edit-decision", "edit-key", "delete-one", "delete-two"],
)
def test_edit_or_delete_is_found(
    gallery: Gallery,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    first_bad: int,
    words: str,
) -> None:
    _populate(gallery)
    with sqlite3.connect(_db(gallery)) as db:
        db.execute(tamper)
    check = gallery.audit.verify()
    assert not check.ok and check.first_bad == first_bad and words in check.problem
    code, out = _cli_verify(capsys, tmp_path / "data")
    assert code == 1 and f"BROKEN at record {first_bad}" in out


def test_raw_byte_edit_is_found(gallery: Gallery) -> None:
    """Flip bytes of a record in the database file itself, not through SQL."""
    _populate(gallery)
    with gallery.store.engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = _db(gallery)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"1 known, 0 unknown")
    assert at > 0
    raw[at : at + 1] = b"7"
    path.write_bytes(bytes(raw))
    gallery.store.engine.dispose()  # type: ignore[attr-defined]  # drop cached pages
    check = gallery.audit.verify()
    assert not check.ok and check.first_bad == 3 and "MAC" in check.problem


def test_swapped_records_are_found(gallery: Gallery) -> None:
    _populate(gallery)
    with sqlite3.connect(_db(gallery)) as db:
        db.execute("UPDATE audit_chain SET seq = -1 WHERE seq = 2")
        db.execute("UPDATE audit_chain SET seq = 2 WHERE seq = 3")
        db.execute("UPDATE audit_chain SET seq = 3 WHERE seq = -1")
    check = gallery.audit.verify()
    assert not check.ok and check.first_bad == 2


def test_inserted_record_is_found(gallery: Gallery) -> None:
    _populate(gallery)
    with sqlite3.connect(_db(gallery)) as db:
        db.execute("UPDATE audit_chain SET seq = seq + 100 WHERE seq >= 3")
        db.execute("UPDATE audit_chain SET seq = seq - 99 WHERE seq >= 103")
        row = db.execute("SELECT * FROM audit_chain WHERE seq = 2").fetchone()
        forged = (3, row[1], "intruder", "", "identify", "door", "", "0 known, 1 unknown", None)
        db.execute(
            "INSERT INTO audit_chain VALUES (?,?,?,?,?,?,?,?,?,?,?)", (*forged, row[10], "f" * 64)
        )
    check = gallery.audit.verify()
    assert not check.ok and check.first_bad == 3


def test_truncation_is_found_by_stored_head_or_external_anchor(gallery: Gallery) -> None:
    _populate(gallery)
    anchor = gallery.audit.head()
    with sqlite3.connect(_db(gallery)) as db:
        db.execute("DELETE FROM audit_chain WHERE seq = 5")
    check = gallery.audit.verify()
    assert not check.ok and check.first_bad == 5 and "deleted" in check.problem
    with sqlite3.connect(_db(gallery)) as db:  # the intruder also rewinds the stored head
        (mac,) = db.execute("SELECT mac FROM audit_chain WHERE seq = 4").fetchone()
        db.execute(
            "UPDATE store_meta SET value = ? WHERE key = 'audit_head'", (f"4:{mac}".encode(),)
        )
    assert gallery.audit.verify().ok  # indistinguishable without an anchor kept elsewhere...
    check = gallery.audit.verify(anchor=anchor)
    assert not check.ok and check.first_bad == 5  # ...and found with one


def test_concurrent_appends_make_one_unbroken_chain(gallery: Gallery, tmp_path: Path) -> None:
    """Threads in this process and a second gallery on the same file append at once."""
    other = Gallery.open(tmp_path / "data", engine=gallery.engine, preload=False)

    def append(target: Gallery, n: int) -> None:
        for i in range(n):
            target.record(AuditEvent("detect", None, (), f"{i} faces"), Actor("t"))

    threads = [threading.Thread(target=append, args=(g, 25)) for g in (gallery, gallery, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    check = gallery.audit.verify()
    assert check.ok and check.records == 75
    assert [r.seq for r in gallery.audit.records()] == list(range(1, 76))


def test_export_writes_a_period(
    gallery: Gallery, clock: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(gallery)  # all at 2025-01-01 09:00 on the fake clock
    clock.advance(days=2)  # type: ignore[attr-defined]
    gallery.record(AuditEvent("detect", None, (), "later"))
    out = tmp_path / "period.jsonl"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "audit",
                "export",
                "--since",
                "2025-01-02",
                "--until",
                "2025-01-04",
                "--output",
                str(out),
                "--data",
                str(tmp_path / "data"),
            ]
        )
    assert done.value.code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and '"decision":"later"' in lines[0]
    assert gallery.audit.records()[-1].operation == "audit.export"
    assert gallery.audit.verify().ok
