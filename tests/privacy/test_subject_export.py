"""Subject access: the export holds the subject, consents with evidence, purpose policies,
template metadata (never embeddings) and the audit records that name the subject."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import face_image

from facegate.cli.main import main
from facegate.gallery.export import export_subject
from facegate.gallery.service import Gallery


def test_export_holds_everything_about_the_subject(gallery: Gallery) -> None:
    gallery.add_purpose("door")
    ann = gallery.create_subject("Ann", external_id="r-17")
    other = gallery.create_subject("Bob")
    gallery.grant_consent(
        ann.id, "door", "form 7", text="I agree", text_version="v1", method="kiosk"
    )
    gallery.grant_consent(other.id, "door", "form 8")
    gallery.enroll(ann.id, [face_image(0, 0)], "door")
    gallery.enroll(other.id, [face_image(1, 0)], "door")
    gallery.identify(face_image(0, 3), "door")
    found = export_subject(gallery, ann.id)
    assert found["subject"] == {
        "subject_id": ann.id,
        "subject": "Ann",
        "external_id": "r-17",
        "created_at": ann.created_at.isoformat(),
    }
    (consent,) = found["consents"]
    assert (consent["text"], consent["text_version"], consent["method"]) == (
        "I agree",
        "v1",
        "kiosk",
    )
    assert found["purposes"][0]["name"] == "door" and found["purposes"][0]["legal_basis"]
    (template,) = found["templates"]
    assert template["purpose"] == "door" and "sealed" not in template and "vector" not in template
    ops = [r["operation"] for r in found["audit_records"]]
    assert ops == ["consent.grant", "enroll", "identify", "export"]  # not Bob's records
    assert found["audit_subject_ref"] == gallery.audit.subject_ref(ann.id)


def test_export_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gallery_fakes import FakeEngine

    data = tmp_path / "data"
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
        ann = gallery.create_subject("Ann")
        gallery.grant_consent(ann.id, "door", "form")
    out = tmp_path / "ann.json"
    with pytest.raises(SystemExit) as done:
        main(["subjects", "export", "Ann", "--output", str(out), "--data", str(data)])
    assert done.value.code == 0
    found = json.loads(out.read_text())
    assert (
        found["subject"]["subject_id"] == ann.id
        and found["audit_records"][-1]["operation"] == "export"
    )
