"""``facegate models calibrate``: real photos of different people, the file it writes, and the
results that then name the deployment calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facegate.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def people(lfw: Path, target: Path, count: int) -> Path:
    target.mkdir()
    for person in sorted(d for d in lfw.iterdir() if d.is_dir())[:count]:
        (target / person.name).symlink_to(person)
    return target


def test_calibrate_writes_a_deployment_calibration_results_then_name(
    capsys: pytest.CaptureFixture[str],
    lfw: Path,
    examples: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = str(tmp_path / "home")
    folder = people(lfw, tmp_path / "people", 24)
    code, out, err = run(
        capsys, "models", "calibrate", "dlib", "--impostors", str(folder), "--data", home, "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pack_id"] == "dlib-resnet-v1" and doc["people"] + doc["no_face"] == 24
    assert doc["calibration"]["impostor_scores"] == doc["people"] * (doc["people"] - 1) // 2
    written = json.loads(Path(doc["path"]).read_text())
    monkeypatch.setenv("FACEGATE_HOME", home)
    assert written["calibration"] == doc["calibration"]
    code, out, _ = run(
        capsys,
        "verify",
        str(examples / "obama.jpg"),
        str(examples / "obama2.jpg"),
        "--operating-point",
        "fmr=1e-1",
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and result["calibration"] == "dlib:deployment"
    assert result["threshold"] == pytest.approx(
        doc["thresholds"].get("fmr=0.1", result["threshold"])
    )


def test_calibrate_refuses_too_few_people(
    capsys: pytest.CaptureFixture[str], lfw: Path, tmp_path: Path
) -> None:
    folder = people(lfw, tmp_path / "people", 3)
    code, _, err = run(
        capsys,
        "models",
        "calibrate",
        "dlib",
        "--impostors",
        str(folder),
        "--data",
        str(tmp_path / "home"),
    )
    assert code == 2 and "at least" in err and err.count("\n") == 1
    assert not (tmp_path / "home" / "calibration").exists()
    code, _, err = run(capsys, "models", "calibrate", "nope", "--impostors", str(folder))
    assert code == 2 and "unknown model pack 'nope'" in err
