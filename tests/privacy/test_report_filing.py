"""The report flags a purpose that holds 100,000 people or more (the 2025 measures' filing)."""

from __future__ import annotations

import pytest

from facegate.gallery.report import FILING_THRESHOLD, build_report, render_markdown
from facegate.gallery.service import Gallery
from facegate.privacy.purposes import PurposeConfig


def test_a_purpose_at_100000_people_is_flagged_for_filing(
    gallery: Gallery, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("payment", "door"):
        gallery.define_purpose(PurposeConfig(name=name, retention_days=30).to_purpose())
    counts = {"payment": (FILING_THRESHOLD, FILING_THRESHOLD), "door": (FILING_THRESHOLD - 1, 1)}
    # the store's own counting is tested in test_report.py; here, the rule on its answer
    monkeypatch.setattr(gallery.store, "purpose_counts", lambda: counts)
    report = build_report(gallery)
    flags = {p["name"]: p["filing_threshold_reached"] for p in report["purposes"]}
    assert flags == {"door": False, "payment": True}
    filing = [r for r in report["open_risks"] if "filing" in r]
    assert len(filing) == 1 and filing[0].startswith("purpose payment: holds 100,000 people")
    assert "30 working days" in render_markdown(report)
