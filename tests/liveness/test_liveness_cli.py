"""``facegate liveness train`` and ``facegate eval pad`` on small real samples."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from facegate.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(scope="module")
def nuaa_rows(shared_data: Path) -> list[dict[str, str]]:
    labels = shared_data / "nuaa_dev" / "labels.csv"
    if not labels.exists():
        pytest.skip(f"NUAA images not at {labels.parent}")
    with labels.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_on_a_live_and_print_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shared_data: Path, nuaa_rows
) -> None:  # type: ignore[no-untyped-def]
    for label in ("live", "print"):
        (tmp_path / "set" / label).mkdir(parents=True)
        rows = [r for r in nuaa_rows if r["label"] == label][::30]
        for r in rows:
            shutil.copy(shared_data / "nuaa_dev" / r["path"], tmp_path / "set" / label)
    out_file = tmp_path / "model.npz"
    code, out, err = run(
        capsys, "liveness", "train", str(tmp_path / "set"), "--out", str(out_file), "--json",
        "--data", str(tmp_path / "home"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["live"] >= 5 and result["attack"] >= 5
    assert out_file.exists() and result["method"].startswith("texture-baseline:")


def test_train_refuses_a_folder_without_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "liveness", "train", str(tmp_path), "--data", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and err.startswith("error:")


def test_eval_pad_passive_splits_by_subject(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shared_data: Path, nuaa_rows
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "nuaa"
    root.mkdir()
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(nuaa_rows[0]))
        writer.writeheader()
        for r in nuaa_rows[::6]:
            writer.writerow({**r, "path": str(shared_data / "nuaa_dev" / r["path"])})
    code, out, err = run(
        capsys, "eval", "pad", "--nuaa", str(root), "--out", str(tmp_path / "r"), "--json",
        "--data", str(tmp_path / "home"),
    )  # fmt: skip
    assert code == 0, err
    passive = json.loads(out)["passive"]
    assert not set(passive["train_subjects"]) & set(passive["test_subjects"])
    assert 0.0 <= passive["at_eer"]["bpcer"] <= 1.0 and passive["at_eer"]["apcer"]["print"] <= 1
    assert passive["at_bpcer_5pct"]["bpcer"] <= 0.05 + 1e-9
    assert "apcer" in (tmp_path / "r" / "pad.html").read_text()
