"""``facegate eval``: JSON summaries with the documented keys, reports on disk, one-line errors."""

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


def test_verify_plain_pairs_json(
    capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path
) -> None:
    lines = ["obama.jpg obama2.jpg 1", "obama.jpg biden.jpg 0", "obama2.jpg biden.jpg 0"] * 4
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines[:10]) + "\n")
    args = ["eval", "verify", "--pairs", str(pairs), "--root", str(examples), "--json"]
    args += ["--workers", "1", "--runtime", "dlib", "--data", str(tmp_path / "data")]
    args += ["--out", str(tmp_path / "out")]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    summary = json.loads(out)
    for key in ("accuracy", "accuracy_std", "auc", "eer", "tar_at_fmr"):
        assert key in summary
    assert summary["auc"] == 1.0 and summary["detector_misses"] == 0
    assert summary["pack"] == "dlib-resnet-v1"  # every report names its pack
    assert set(summary["tar_at_fmr"]) == {"0.01", "0.001"}
    assert (tmp_path / "out" / "verify.html").is_file()
    assert json.loads((tmp_path / "out" / "verify.json").read_text())["summary"]["pairs"] == 10
    assert (tmp_path / "data" / "eval-cache.sqlite").is_file()


def test_missing_pairs_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "eval", "verify", "--pairs", str(tmp_path / "nope.txt"), "--root", str(tmp_path)
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nope.txt" in err


def test_bad_folds_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "eval", "detect", "--fddb", str(tmp_path), "--folds", "0-3")
    assert code == 2 and "folds" in err and err.count("\n") == 1


def test_eval_takes_a_pack_and_refuses_an_unknown_one(
    capsys: pytest.CaptureFixture[str], examples: Path, shared_data: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("obama.jpg obama2.jpg 1\n")
    for command in (
        ["verify", "--pairs", str(pairs)],
        ["identify"],
        ["fairness", "--utkface", "x"],
    ):
        args = ["eval", *command, "--root", str(examples), "--pack", "no-such-pack"]
        if command[0] == "fairness":
            utk = str(shared_data / "utkface")
            args = ["eval", "fairness", "--utkface", utk, "--pack", "no-such-pack"]
        code, _, err = run(capsys, *args, "--data", str(tmp_path / "data"))
        assert code == 2 and "unknown model pack 'no-such-pack'" in err, (command, err)


def test_too_few_pairs_for_ten_folds_is_one_line(
    capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("obama.jpg obama2.jpg 1\nobama.jpg biden.jpg 0\n")
    args = ["eval", "verify", "--pairs", str(pairs), "--root", str(examples), "--workers", "1"]
    code, out, err = run(capsys, *args, "--runtime", "dlib", "--data", str(tmp_path / "data"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "at least 10" in err and "pairs.txt" in err
