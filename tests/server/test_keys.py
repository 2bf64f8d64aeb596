"""API keys: hashed at rest, shown once, scoped, revocable; the ``facegate keys`` commands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from facegate.cli.main import main
from facegate.errors import ApiKeyNotFoundError, AuthenticationError, ConfigError
from facegate.server.keys import KeyStore, parse_list
from facegate.store.sql import DB_FILE_NAME


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_keys_are_hashed_scoped_and_revocable(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path)
    new = store.create(["identify", "enroll"], ["payment", "access:block-7"], "till 4")
    secret = new.token.split("_", 2)[2]
    key = store.authenticate(new.token)
    assert key.id == new.key.id and key.has_scope("identify") and not key.has_scope("admin")
    assert key.allows_purpose("access:block-7") and not key.allows_purpose("door")
    store.close()
    raw = (tmp_path / DB_FILE_NAME).read_bytes()
    assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as db:
        (stored,) = db.execute("SELECT secret_sha256 FROM api_keys").fetchone()
    assert len(stored) == 64 and secret not in stored
    store = KeyStore.open(tmp_path)
    store.revoke(new.key.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        store.authenticate(new.token)
    with pytest.raises(ApiKeyNotFoundError):
        store.revoke("nope")
    with pytest.raises(ConfigError, match="bad scopes"):
        store.create(["root"], [])
    store.close()


def test_first_start_admin_key_only_when_none_active(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path)
    first = store.ensure_admin()
    assert first is not None and first.key.is_admin and first.key.any_purpose
    assert store.ensure_admin() is None
    store.revoke(first.key.id)
    assert store.ensure_admin() is not None
    store.close()


def test_parse_list() -> None:
    assert parse_list("b, a,,a") == ["a", "b"]
    assert parse_list(["x", "y,z"]) == ["x", "y", "z"]
    assert parse_list(None) == []


def test_keys_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = str(tmp_path)
    code, out, _ = run(
        capsys,
        "keys",
        "create",
        "--scopes",
        "detect,verify,identify,enroll,admin",
        "--purposes",
        "payment,access:block-7",
        "--data",
        data,
        "--json",
    )
    assert code == 0
    created = json.loads(out)
    assert created["key"].startswith(f"fg_{created['id']}_")
    assert created["purposes"] == ["access:block-7", "payment"]
    code, out, err = run(capsys, "keys", "create", "--scopes", "detect", "--data", data)
    assert code == 0 and out.startswith("fg_") and "not shown again" in err
    code, out, _ = run(capsys, "keys", "list", "--data", data, "--json")
    listed = json.loads(out)["keys"]
    assert len(listed) == 2 and created["key"] not in out
    code, out, _ = run(capsys, "keys", "revoke", created["id"], "--data", data)
    assert code == 0 and created["id"] in out
    code, out, _ = run(capsys, "keys", "list", "--data", data)
    assert "revoked" in out
    code, _, err = run(capsys, "keys", "revoke", "missing", "--data", data)
    assert code == 2 and err.startswith("error: no API key")
