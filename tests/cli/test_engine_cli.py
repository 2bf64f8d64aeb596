"""The CLI's stable JSON contract, its known answers, and its errors (one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facegate.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_detect_json_contract(capsys: pytest.CaptureFixture[str], examples: Path) -> None:
    code, out, _ = run(capsys, "detect", str(examples / "two_people.jpg"), "--json")
    assert code == 0
    obj = json.loads(out)
    assert len(obj["faces"]) == 2
    for face in obj["faces"]:
        x1, y1, x2, y2 = face["box"]
        assert x1 < x2 and y1 < y2
        assert isinstance(face["score"], float)
        assert len(face["landmarks"]) == 5
        assert 0 <= face["quality"] <= 100


def test_detect_quality_is_the_one_verify_reports(
    capsys: pytest.CaptureFixture[str], examples: Path
) -> None:
    photo = str(examples / "obama.jpg")
    _, out, _ = run(capsys, "detect", photo, "--json")
    (detected,) = json.loads(out)["faces"]
    _, out, _ = run(capsys, "verify", photo, str(examples / "obama2.jpg"), "--json")
    assert detected["quality"] == json.loads(out)["face_a"]["quality"]
    _, out, _ = run(capsys, "detect", photo)
    assert f"quality={detected['quality']:.0f}" in out


def test_detect_several_images_one_line_each(
    capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path
) -> None:
    images = [str(examples / "obama.jpg"), str(examples / "biden.jpg")]
    code, out, _ = run(capsys, "detect", *images, "--json", "--draw", str(tmp_path))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["image"] for line in lines] == images
    assert all(len(line["faces"]) == 1 for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["biden.faces.jpg", "obama.faces.jpg"]


def test_verify_known_answers(capsys: pytest.CaptureFixture[str], examples: Path) -> None:
    code, out, _ = run(
        capsys, "verify", str(examples / "obama.jpg"), str(examples / "obama2.jpg"), "--json"
    )
    same = json.loads(out)
    assert code == 0 and same["match"] is True
    assert same["operating_point"] == "fmr=0.0001"
    code, out, _ = run(
        capsys,
        "verify",
        str(examples / "obama.jpg"),
        str(examples / "biden.jpg"),
        "--operating-point",
        "fmr=1e-3",
        "--json",
    )
    other = json.loads(out)
    assert other["match"] is False and other["operating_point"] == "fmr=0.001"
    assert isinstance(other["similarity"], float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["detect", "/no/such/file.jpg"], "file not found"),
        (["verify", "x.jpg"], "Missing argument"),
        (["detect", "--upsample", "9", "x.jpg"], "--upsample"),
        (["verify", "A", "B", "--operating-point", "fmr=2"], "bad operating point"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_text_file_exits_non_zero_without_traceback(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("hello, I am not a photo\n")
    proc = subprocess.run(
        [sys.executable, "-m", "facegate", "detect", str(text)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:")
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_models_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    pack = json.loads(out)["packs"][0]
    assert code == 0 and pack["name"] == "dlib"
    assert {f["status"] for f in pack["files"]} == {"installed"} and pack["status"] == "installed"
    assert (
        pack["pack_id"] == "dlib-resnet-v1" and pack["roles"]["embedder"]["alignment"] == "dlib-150"
    )
    assert pack["licence"]["weights"] and pack["provenance"]
    assert all(len(f["sha256"]) == 64 for f in pack["files"])


def test_models_list_names_the_flip_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    packs = {p["name"]: p for p in json.loads(out)["packs"]}
    assert code == 0
    assert packs["mobilefacenet-flip"]["roles"]["embedder"]["flip"] is True
    assert packs["mobilefacenet"]["roles"]["embedder"]["flip"] is False
    code, out, _ = run(capsys, "models", "list")
    line = next(x for x in out.splitlines() if "test-time flip (each chip" in x)
    assert code == 0 and "arcface-112" in line
