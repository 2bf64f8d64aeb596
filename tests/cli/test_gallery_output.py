"""What the gallery commands tell a person: template ids, which face is which, warnings apart
from failures, and a failed command that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import face_image

from facegate.cli.main import main
from facegate.errors import StoreError
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


def _enrolled(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    data = ["--data", str(tmp_path / "data")]
    grant = ["consent", "grant", "--subject", "ann", "--purpose", "door", "--evidence", "form 7"]
    assert run(capsys, *grant, *data)[0] == 0
    photos = [_photo(tmp_path, f"ann{v}.png", 0, v) for v in range(2)]
    assert run(capsys, "enroll", "--subject", "ann", "--purpose", "door", *photos, *data)[0] == 0
    return data


def test_subjects_show_lists_template_ids(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _enrolled(capsys, tmp_path)
    code, out, _ = run(capsys, "subjects", "show", "ann", "--json", *data)
    ids = json.loads(out)["template_ids"]
    assert code == 0 and len(ids) == 2 and json.loads(out)["templates"] == 2
    code, out, _ = run(capsys, "subjects", "show", "ann", *data)
    for tid in ids:
        assert f"template {tid}: purpose door" in out
    assert run(capsys, "subjects", "erase-template", str(ids[0]), *data)[0] == 0
    code, out, _ = run(capsys, "subjects", "show", "ann", "--json", *data)
    assert json.loads(out)["template_ids"] == ids[1:]


def test_identify_text_says_which_face_is_which(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _enrolled(capsys, tmp_path)
    probe = _photo(tmp_path, "two.png", 0, 9, faces=2)  # ann, then a stranger
    code, out, _ = run(capsys, "identify", probe, "--purpose", "door", "--json", *data)
    faces = json.loads(out)["faces"]
    code, out, _ = run(capsys, "identify", probe, "--purpose", "door", *data)
    lines = out.splitlines()[1:]
    assert code == 0 and len(lines) == 2
    for i, (line, face) in enumerate(zip(lines, faces, strict=True)):
        box = ", ".join(f"{v:.0f}" for v in face["box"])
        assert line.strip().startswith(f"[{i}] box=[{box}] ")
    assert "ann" in lines[0] and "unknown" in lines[1]


def test_from_dir_warnings_are_not_failures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    people = tmp_path / "people"
    for folder, person in (("ann", 0), ("ann-again", 0), ("bob", 1)):
        (people / folder).mkdir(parents=True)
        _photo(people / folder, "a.png", person, 1 if folder == "ann-again" else 0)
    (people / "bob" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    args = ["enroll", "--from-dir", str(people), "--purpose", "door", "--consent-evidence", "forms"]
    code, out, err = run(capsys, *args, "--data", str(tmp_path / "data"), "--json")
    summary = json.loads(out)
    assert code == 1 and summary["added"] == 3  # a failed image: exit 1, the rest stored
    assert [f["subject"] for f in summary["failures"]] == ["bob"]
    assert not any(f["error"].startswith("warning") for f in summary["failures"])
    (warning,) = summary["warnings"]
    code, out, _ = run(
        capsys, "subjects", "show", "ann", "--json", "--data", str(tmp_path / "data")
    )
    assert (warning["subject"], warning["image"]) == ("ann-again", "a.png")
    assert warning["other_subject_id"] == json.loads(out)["subject_id"]
    assert warning["warning"].startswith("a.png: face already matches subject")
    code, out, err = run(capsys, *args, "--data", str(tmp_path / "data2"))
    assert code == 1 and "3 template(s) added" in out and "1 failure(s), 1 warning(s)" in out
    assert "ann-again: warning: a.png: face already matches" in err


def test_failed_consent_grant_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data", str(tmp_path / "data")]
    grant = ["consent", "grant", "--subject", "new person", "--purpose", "gym", *data]
    code, _, err = run(capsys, *grant)  # no evidence
    assert code == 2 and "consent needs evidence" in err
    code, out, _ = run(capsys, "subjects", "list", "--json", *data)
    assert json.loads(out) == {"subjects": []}
    code, out, _ = run(capsys, "privacy", "purposes", "list", "--json", *data)
    assert json.loads(out) == {"purposes": []}

    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("the disk is full")

    monkeypatch.setattr(Gallery, "grant_consent", broken)  # any other failure
    code, _, err = run(capsys, *grant, "--evidence", "form 9")
    assert code == 2 and "the disk is full" in err
    code, out, _ = run(capsys, "subjects", "list", "--json", *data)
    assert json.loads(out) == {"subjects": []}
    code, out, _ = run(capsys, "privacy", "purposes", "list", "--json", *data)
    assert json.loads(out) == {"purposes": []}
