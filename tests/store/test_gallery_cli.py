"""The gallery CLI with a fake engine: from-dir enrolment, identify JSON contract, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.cli import gallery_cmds
from facegate.cli.main import main
from facegate.imageio import write_image


@pytest.fixture(autouse=True)
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gallery_cmds, "_engine_for", lambda base: FakeEngine())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _people_dir(root: Path) -> Path:
    for person, name in enumerate(["ann", "bob", "cy"]):
        folder = root / "people" / name
        folder.mkdir(parents=True)
        for variant in range(2):
            write_image(folder / f"{variant}.png", face_image(person, variant))
    (root / "people" / "cy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return root / "people"


def test_enroll_from_dir_then_identify_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    people = _people_dir(tmp_path)
    args = ["enroll", "--from-dir", str(people), "--purpose", "door"]
    code, out, _ = run(
        capsys, *args, "--consent-evidence", "signed forms", "--data", data, "--json"
    )
    summary = json.loads(out)
    assert code == 1 and (summary["subjects"], summary["added"]) == (3, 6)  # 1: one image failed
    assert [f["subject"] for f in summary["failures"]] == ["cy"]
    (people / "cy" / "broken.jpg").unlink()
    code, out, _ = run(capsys, *args, "--consent-evidence", "again", "--data", data, "--json")
    assert code == 0 and json.loads(out)["already_enrolled"] == 6 and json.loads(out)["added"] == 0

    probes = []
    for person in (1, 77):
        probes.append(tmp_path / f"probe{person}.png")
        write_image(probes[-1], face_image(person, 9))
    code, out, _ = run(
        capsys, "identify", *map(str, probes), "--purpose", "door", "--top-k", "2",
        "--data", data, "--json",
    )  # fmt: skip
    known, stranger = (json.loads(line) for line in out.splitlines())
    face = known["faces"][0]
    assert code == 0 and known["image"] == str(probes[0])
    assert set(face) >= {"box", "subject", "subject_id", "similarity", "operating_point"}
    assert face["subject"] == "bob" and face["operating_point"] == "fpir=0.01"
    assert [c["subject"] for c in face["candidates"]] == ["bob"]  # nobody below the threshold
    assert set(face["candidates"][0]) == {"subject", "subject_id", "similarity"}
    assert stranger["faces"][0]["subject"] is None
    assert stranger["faces"][0]["subject_id"] is None


def test_consent_subjects_and_erase(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = ["--data", str(tmp_path / "data")]
    image = tmp_path / "ann.png"
    write_image(image, face_image(0, 0))
    grant = ["consent", "grant", "--subject", "ann", "--purpose", "door", *data]
    code, _, err = run(capsys, *grant)
    assert code == 2 and "consent needs evidence" in err
    assert (
        run(capsys, *grant, "--text", "I agree to door access by face", "--method", "kiosk")[0] == 0
    )
    code, out, _ = run(capsys, "enroll", "--subject", "ann", "--purpose", "door", str(image), *data)
    assert code == 0 and "1 template(s) added" in out
    code, out, _ = run(capsys, "subjects", "show", "ann", *data, "--json")
    info = json.loads(out)
    assert info["templates"] == 1 and info["consents"][0]["purpose"] == "door"
    assert run(capsys, "consent", "revoke", "--subject", "ann", "--purpose", "door", *data)[0] == 0
    code, out, _ = run(capsys, "subjects", "list", "--purpose", "door", *data, "--json")
    assert json.loads(out) == {"subjects": []}
    code, out, err = run(
        capsys, "enroll", "--subject", "ann", "--purpose", "door", str(image), *data
    )
    assert code == 2 and err.count("\n") == 1 and "no active consent" in err
    assert run(capsys, "subjects", "erase", info["subject_id"], "--yes", *data)[0] == 0
    code, out, _ = run(capsys, "subjects", "list", *data, "--json")
    assert json.loads(out) == {"subjects": []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enroll", "--subject", "nobody", "--purpose", "door", "x.png"], "no subject"),
        (["identify", "x.png", "--purpose", "gym"], "no purpose named 'gym'"),
        (["subjects", "show", "nobody"], "no subject"),
        (["enroll", "--from-dir", ".", "--purpose", "door"], "--consent-evidence"),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args, "--data", str(tmp_path / "data"))
    assert code == 2 and message in err and err.count("\n") == 1
