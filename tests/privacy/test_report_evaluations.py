"""The impact summary's evaluation figures: read from the data dir's reports (wherever the
command runs), with the figures and the time the evaluation ran, not the file's mtime."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine

from facegate.cli.main import main
from facegate.eval.report import Report
from facegate.gallery.service import Gallery


def test_report_shows_figures_and_when_the_evaluation_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
    summary = {"pairs": 6000, "accuracy": 0.9882, "tar_at_fmr": {"0.001": 0.9313}}
    report = Report("verify", "1:1 verification on pairs.txt (lfw)", summary)
    report.details["run"] = {"pack": "dlib-resnet-v1"}
    json_path, _ = report.write(data / "reports")  # where facegate eval puts it by default
    ran_at = json.loads(json_path.read_text())["generated_at"]
    os.utime(json_path, (978_307_200, 978_307_200))  # 2001-01-01: a copy's or a clone's time
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the repository: no bench/results here
    with pytest.raises(SystemExit) as done:
        main(["privacy", "report", "--output-dir", str(tmp_path / "out"), "--data", str(data)])
    assert done.value.code == 0
    written = json.loads((tmp_path / "out" / "privacy-report.json").read_text())
    (evaluation,) = written["evaluations"]
    assert evaluation["evaluated_at"] == ran_at and evaluation["pack"] == "dlib-resnet-v1"
    assert evaluation["figures"] == {"pairs": 6000, "accuracy": 0.9882, "tar_at_fmr.0.001": 0.9313}
    text = (tmp_path / "out" / "privacy-report.md").read_text()
    line = next(line for line in text.splitlines() if "verify.json" in line)
    assert f"evaluated {ran_at}" in line and "accuracy=0.9882" in line
    assert "tar_at_fmr.0.001=0.9313" in line and "2001-01-01" not in text
    assert not any("unmeasured" in risk for risk in written["open_risks"])
