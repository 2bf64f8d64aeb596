"""FACEGATE_STORE__URL picks the store: unset is the SQLite file; a PostgreSQL URL is used by
the CLI as by the server; a bad or unreachable one stops with one line (no password)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine, face_image

from facegate.cli import gallery_cmds
from facegate.cli.main import main
from facegate.errors import ConfigError, StoreError
from facegate.imageio import write_image
from facegate.store.crypto import MasterKey
from facegate.store.sql import DB_FILE_NAME, SqlStore


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_bad_and_unreachable_urls_fail_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = MasterKey(b"\x01" * 32, "test")
    with pytest.raises(ConfigError, match="not supported"):
        SqlStore.open(tmp_path, key, "mysql://someone@db/facegate")
    with pytest.raises(StoreError, match="cannot reach") as caught:
        SqlStore.open(tmp_path, key, "postgresql+psycopg://fg:hunter2@127.0.0.1:1/facegate")
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("FACEGATE_STORE__URL", "postgresql://fg:hunter2@127.0.0.1:1/facegate")
    code, out, err = _run(capsys, "subjects", "list", "--data", str(tmp_path))
    assert code == 2 and err.startswith("error: cannot reach") and len(err.splitlines()) == 1
    assert "hunter2" not in err
    assert not (tmp_path / DB_FILE_NAME).exists()


def test_cli_enrols_and_identifies_on_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_cmds, "_engine_for", lambda base: FakeEngine())
    monkeypatch.setenv("FACEGATE_STORE__URL", pg_url)
    people = tmp_path / "people" / "ann"
    people.mkdir(parents=True)
    write_image(people / "0.png", face_image(4, 0))
    write_image(tmp_path / "probe.png", face_image(4, 7))
    data = ["--data", str(tmp_path / "data")]
    code, _, err = _run(
        capsys, "enroll", "--from-dir", str(people.parent), "--purpose", "door",
        "--consent-evidence", "form 1", *data,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = _run(
        capsys, "identify", str(tmp_path / "probe.png"), "--purpose", "door", "--json", *data
    )
    assert code == 0, err
    assert json.loads(out)["faces"][0]["subject"] == "ann"
    assert not (tmp_path / "data" / DB_FILE_NAME).exists()  # everything went to PostgreSQL
