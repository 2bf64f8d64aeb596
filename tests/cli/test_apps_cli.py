"""``facegate apps access|attendance``: a door and a class from the command line (fake engine)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gallery_fakes import face_image

from facegate.apps import NoticeText, set_notice
from facegate.cli.main import main
from facegate.gallery.service import Gallery
from facegate.imageio import write_image

pytestmark = pytest.mark.usefixtures("fake_gallery_engine")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _photo(tmp_path: Path, name: str, person: int, variant: int = 0, faces: int = 1) -> str:
    path = tmp_path / name
    write_image(path, face_image(person, variant, faces=faces))
    return str(path)


def _notice(data: Path, purpose: str) -> None:
    from gallery_fakes import FakeEngine

    with Gallery.open(data, engine=FakeEngine()) as gallery:
        set_notice(gallery, purpose, NoticeText("Operator", "dpo@x.example", "Card or teacher."))


def _subject(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, purpose: str, data: list[str]
) -> str:
    grant = ["consent", "grant", "--subject", "ann", "--purpose", purpose, "--evidence", "form 7"]
    assert run(capsys, *grant, *data)[0] == 0
    photo = _photo(tmp_path, "ann.png", 3)
    assert run(capsys, "enroll", "--subject", "ann", "--purpose", purpose, photo, *data)[0] == 0
    code, out, _ = run(capsys, "subjects", "list", "--json", *data)
    return str(json.loads(out.splitlines()[0])["subjects"][0]["subject_id"]) if code == 0 else ""


def test_a_door_from_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = ["--data", str(tmp_path / "data")]
    code, out, _ = run(capsys, "apps", "access", "site", "block-7", "--webhook-url",
                       "http://127.0.0.1:9/door", "--json", *data)  # fmt: skip
    assert code == 0 and json.loads(out)["webhook_secret"]
    _notice(tmp_path / "data", "access:block-7")
    ann = _subject(capsys, tmp_path, "access:block-7", data)
    assert run(capsys, "apps", "access", "schedule", "block-7", "daily 00:00-24:00", *data)[0] == 0
    code, _, _ = run(capsys, "apps", "access", "credential", "block-7", "--subject", ann,
                     "--value", "04:A3:2B:91", *data)  # fmt: skip
    assert code == 0
    cam = _photo(tmp_path, "cam.png", 3, 1)
    code, out, _ = run(capsys, "apps", "access", "check", "block-7", cam, "--json", *data)
    decision = json.loads(out)
    assert (code, decision["decision"], decision["subject_id"]) == (0, "open", ann)
    code, out, _ = run(
        capsys, "apps", "access", "check", "block-7", _photo(tmp_path, "x.png", 50), *data
    )
    assert out.strip() == "closed: stranger (face, 1 faces, fpir=0.01); alerts: stranger"
    code, out, err = run(
        capsys, "apps", "access", "check", "nowhere", _photo(tmp_path, "y.png", 3), *data
    )
    assert code == 2 and err.startswith("error: no access site") and len(err.splitlines()) == 1


def test_a_class_from_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = ["--data", str(tmp_path / "data")]
    assert run(capsys, "apps", "attendance", "class", "cs101", *data)[0] == 0
    _notice(tmp_path / "data", "attendance:cs101")
    ann = _subject(capsys, tmp_path, "attendance:cs101", data)
    assert run(capsys, "apps", "attendance", "roster", "cs101", ann, *data)[0] == 0
    now = datetime.now(UTC)
    window = ["--opens", (now - timedelta(minutes=5)).isoformat(),
              "--late-after", (now + timedelta(minutes=20)).isoformat(),
              "--closes", (now + timedelta(hours=1)).isoformat()]  # fmt: skip
    code, _, err = run(capsys, "apps", "attendance", "session", "cs101", *window,
                       "--analysis", "emotion", *data)  # fmt: skip
    assert code == 2 and "5(1)(f)" in err and len(err.splitlines()) == 1
    code, out, _ = run(capsys, "apps", "attendance", "session", "cs101", *window, "--json", *data)
    session = json.loads(out)["id"]
    code, out, _ = run(
        capsys, "apps", "attendance", "checkin", session, _photo(tmp_path, "c.png", 3, 2), *data
    )
    assert (code, out.split()) == (0, [ann, "present"])
    code, out, _ = run(capsys, "apps", "attendance", "report", session, *data)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["subject_id"], r["status"], r["method"]) for r in rows] == [(ann, "present", "face")]
    report = tmp_path / "report.html"
    assert (
        run(
            capsys,
            "apps",
            "attendance",
            "report",
            session,
            "--format",
            "html",
            "--out",
            str(report),
            *data,
        )[0]
        == 0
    )
    assert "1 present" in report.read_text()
