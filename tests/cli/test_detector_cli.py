"""``facegate models install`` / ``models detectors`` and ``detect --detector`` with MTCNN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facegate.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_install_unknown_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "models", "install", "nope", "--data", str(tmp_path))
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1


def test_install_then_detect(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    facenet_wheel: Path,
    examples: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(capsys, "models", "detectors", "--data", str(tmp_path), "--json")
    assert code == 0 and {"detector": "mtcnn", "installed": False} in json.loads(out)["detectors"]
    code, out, _ = run(
        capsys,
        "models",
        "install",
        "mtcnn",
        "--tarball",
        str(facenet_wheel),
        "--data",
        str(tmp_path),
    )
    assert code == 0 and "installed mtcnn" in out, out
    code, out, _ = run(capsys, "models", "detectors", "--data", str(tmp_path), "--json")
    assert {"detector": "mtcnn", "installed": True} in json.loads(out)["detectors"]
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path))
    code, out, _ = run(
        capsys, "detect", str(examples / "two_people.jpg"), "--detector", "mtcnn", "--json"
    )
    faces = json.loads(out)["faces"]
    assert code == 0 and len(faces) == 2
    assert all(len(f["keypoints"]) == 5 and len(f["landmarks"]) == 5 for f in faces)
