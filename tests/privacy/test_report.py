"""The data-protection impact summary: purposes, bases, counts, keys, chain, risks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.cli.main import main
from facegate.gallery.report import build_report, render_markdown
from facegate.gallery.service import Gallery
from facegate.privacy.purposes import PurposeConfig


def test_report_lists_purposes_counts_and_risks(gallery: Gallery, tmp_path: Path) -> None:
    gallery.define_purpose(
        PurposeConfig(name="door", retention_days=365, scopes=["identify"]).to_purpose()
    )
    gallery.define_purpose(
        PurposeConfig(
            name="watch",
            legal_basis="substantial-public-interest",
            legal_basis_reference="statute X",
            consent_required=False,
        ).to_purpose()
    )
    ann = gallery.create_subject("Ann")
    gallery.grant_consent(ann.id, "door", "form")
    gallery.enroll(ann.id, [face_image(0, 0), face_image(0, 1)], "door")
    results = tmp_path / "results"
    results.mkdir()
    (results / "lfw.json").write_text(json.dumps({"accuracy": 0.9938, "pairs": 6000}))
    report = build_report(gallery, results)
    door, watch = report["purposes"]
    assert (door["subjects_active"], door["templates"], door["retention_days"]) == (1, 2, 365)
    assert watch["consent_required"] is False
    assert report["audit_chain"]["ok"] and report["evaluations"][0]["figures"]["accuracy"] == 0.9938
    risks = "\n".join(report["open_risks"])
    assert "purpose watch: processed without consent" in risks
    assert "purpose watch: no retention period" in risks and "purpose door" not in risks
    text = render_markdown(report)
    assert "| watch | substantial-public-interest (statute X) | NOT required |" in text
    assert "Ann" not in text and ann.id not in text


def test_report_command_writes_both_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
    with pytest.raises(SystemExit) as done:
        main(["privacy", "report", "--output-dir", str(tmp_path / "out"), "--data", str(data)])
    assert done.value.code == 0
    assert json.loads((tmp_path / "out" / "privacy-report.json").read_text())["purposes"]
    assert "## Open risks" in (tmp_path / "out" / "privacy-report.md").read_text()
