"""``facegate apps access watch``: a gate fed from the Hamilton clip (real engine, slow).

The two people on stage are residents (enrolled from their photos in the face_recognition
examples); every door decision names one of them or nobody, at least one track of Lin-Manuel
Miranda opens the door, and every decision is an audit record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facegate.apps import NoticeText, set_notice
from facegate.cli.main import main
from facegate.gallery.service import Gallery


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.slow
def test_a_gate_watching_a_real_clip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, examples: Path, shared_data: Path
) -> None:
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"the Hamilton clip is not at {clip}")
    data = ["--data", str(tmp_path / "data")]
    assert run(capsys, "apps", "access", "site", "stage-door", *data)[0] == 0
    purpose = "access:stage-door"
    with Gallery.open(tmp_path / "data") as gallery:
        set_notice(gallery, purpose, NoticeText("Theatre", "dpo@theatre.example", "Stage pass."))
    ids = {}
    for name, photo in (("lin", "lin-manuel-miranda.png"), ("alex", "alex-lacamoire.png")):
        grant = ["consent", "grant", "--subject", name, "--purpose", purpose, "--evidence", "f"]
        assert run(capsys, *grant, *data)[0] == 0
        enrol = ["enroll", "--subject", name, "--purpose", purpose, str(examples / photo)]
        assert run(capsys, *enrol, *data)[0] == 0
        code, out, _ = run(capsys, "subjects", "show", name, "--json", *data)
        ids[name] = json.loads(out)["subject_id"]
    code, out, err = run(
        capsys, "apps", "access", "watch", "stage-door", str(clip), "--json", *data
    )
    assert code == 0, err
    decisions = [json.loads(line) for line in out.splitlines()]
    assert decisions, "no door decision from the clip"
    assert {d["subject_id"] for d in decisions} <= {ids["lin"], ids["alex"], None}
    assert any(d["decision"] == "open" and d["subject_id"] == ids["lin"] for d in decisions)
    assert {d["reason"] for d in decisions} <= {"allowed", "stranger", "tailgating"}
    with Gallery.open(tmp_path / "data") as gallery:
        records = gallery.audit.records(operation="app.access")
        assert len(records) == len(decisions)
        assert gallery.audit.verify().ok
