"""``facegate video`` on real clips: JSON lines of events, the summary, the drawing, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from facegate.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture
def enrolled(lfw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    data = tmp_path / "data"
    people = tmp_path / "people"
    for name in ("Albert_Brooks", "Aaron_Guiel"):
        (people / name).mkdir(parents=True)
        source = lfw / name / f"{name}_0001.jpg"
        (people / name / source.name).write_bytes(source.read_bytes())
    code, _, err = run(
        capsys, "enroll", "--from-dir", str(people), "--purpose", "studio",
        "--consent-evidence", "test fixture", "--data", str(data), "--json",
    )  # fmt: skip
    assert code == 0, err
    return data


@pytest.mark.slow
def test_video_json_lines_and_drawing(
    enrolled: Path, ytf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawn = tmp_path / "drawn.mp4"
    code, out, err = run(
        capsys, "video", str(ytf / "Albert_Brooks" / "0"), "--purpose", "studio",
        "--data", str(enrolled), "--json", "--draw", str(drawn),
    )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert summary["type"] == "summary" and summary["frames"] == 217
    kinds = [e["type"] for e in events]
    assert kinds[0] == "track_started" and kinds[-1] == "track_left"
    assert summary["tracks"] == 1
    decided = [e for e in events if e["type"] in ("identified", "unknown")]
    assert decided and all(e["operating_point"].startswith("fpir=") for e in decided)
    code, out, _ = run(capsys, "subjects", "list", "--data", str(enrolled), "--json")
    by_id = {s["subject_id"]: s["subject"] for s in json.loads(out)["subjects"]}
    # a low-resolution video against one LFW photo may stay unknown, but never a wrong name
    assert all(by_id[e["subject_id"]] == "Albert_Brooks" for e in decided if "subject_id" in e)
    assert all("embedding" not in e and "image" not in e for e in events)
    capture = cv2.VideoCapture(str(drawn))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 217
    capture.release()


def test_video_errors_are_one_line(
    enrolled: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = str(enrolled)
    code, _, err = run(capsys, "video", str(tmp_path / "nope.mp4"), "--purpose", "studio",
                       "--data", data)  # fmt: skip
    assert code == 2 and err.startswith("error:") and len(err.splitlines()) == 1
    code, _, err = run(capsys, "video", str(tmp_path), "--purpose", "nosuch", "--data", data)
    assert code == 2 and len(err.splitlines()) == 1
    monkeypatch.delenv("FACEGATE_WEBHOOK_SECRET", raising=False)
    clip = tmp_path / "frames"
    clip.mkdir()
    code, _, err = run(capsys, "video", str(clip), "--purpose", "studio", "--data", data,
                       "--webhook", "http://127.0.0.1:9/x")  # fmt: skip
    assert code == 2 and "FACEGATE_WEBHOOK_SECRET" in err
