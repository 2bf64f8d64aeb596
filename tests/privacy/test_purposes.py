"""Purposes as configuration: files, validation, ':' in names, scopes enforced over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from facegate.errors import ConfigError
from facegate.gallery.service import Gallery
from facegate.privacy.purposes import PurposeConfig, check_purpose_name, load_purposes

TOML = """
[[purpose]]
name = "access:block-7"
description = "Door of block 7"
retention_days = 365
non_face_alternative = true
scopes = ["identify", "enroll"]

[[purpose]]
name = "watchlist:site-3"
legal_basis = "substantial-public-interest"
legal_basis_reference = "the statute relied on"
consent_required = false
retention_days = 30
"""


def test_purposes_file_is_applied(gallery: Gallery, tmp_path: Path) -> None:
    path = tmp_path / "purposes.toml"
    path.write_text(TOML)
    for config in load_purposes(path):
        gallery.define_purpose(config.to_purpose())
    block, watch = gallery.purposes()
    assert (block.name, block.retention_days, block.scopes) == (
        "access:block-7",
        365,
        ("enroll", "identify"),
    )
    assert block.consent_required and block.non_face_alternative and not block.keep_images
    assert not watch.consent_required and watch.legal_basis == "substantial-public-interest"
    assert block.allows_scope("identify") and not block.allows_scope("verify")
    assert [r.operation for r in gallery.audit.records()] == ["purpose.define"] * 2


def test_purpose_names_allow_colons() -> None:
    assert check_purpose_name("access:block-7") == "access:block-7"
    for bad in ("Access", ":x", "a b", "x" * 65, ""):
        with pytest.raises(ConfigError):
            check_purpose_name(bad)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"consent_required": False}, "legal basis other than consent"),
        ({"consent_required": False, "legal_basis": "law"}, "legal_basis_reference"),
        ({"scopes": ["fly"]}, "unknown scopes"),
        ({"retention_days": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_policies_are_refused(fields: dict[str, object], message: str, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    import json

    path.write_text(json.dumps({"purpose": [{"name": "door", **fields}]}))
    with pytest.raises(ConfigError, match=message):
        load_purposes(path)


def test_scopes_and_policies_over_http(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from fastapi.testclient import TestClient
    from server_fakes import FakeEngine, bearer, face_png

    from facegate.config import ServerConfig, Settings
    from facegate.server.app import create_app
    from facegate.server.keys import KeyStore

    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1))
    store = KeyStore.open(settings.home)
    admin = store.create(["admin"], ["*"]).token
    verifier = store.create(["verify", "enroll"], ["access:block-7"]).token
    store.close()
    with TestClient(create_app(settings, lambda: FakeEngine())) as client:
        body = PurposeConfig(name="x", scopes=["identify", "enroll"], retention_days=7).model_dump()
        del body["name"]
        r = client.put("/v1/purposes/access:block-7", json=body, headers=bearer(admin))
        assert r.status_code == 200 and r.json()["scopes"] == ["enroll", "identify"]
        r = client.put("/v1/purposes/x", json={"consent_required": False}, headers=bearer(admin))
        assert r.status_code == 422
        r = client.post(
            "/v1/verify",
            data={"purpose": "access:block-7"},
            files={"image_a": ("a.png", face_png(1)), "image_b": ("b.png", face_png(1))},
            headers=bearer(verifier),
        )
        assert r.status_code == 403 and "only with scopes" in r.json()["detail"]
        listed = client.get("/v1/purposes", headers=bearer(verifier)).json()["purposes"]
        assert listed[0]["retention_days"] == 7
        r = client.delete("/v1/purposes/access:block-7", headers=bearer(admin))
        assert r.status_code == 200 and r.json()["templates"] == 0
        records = client.get("/v1/audit", headers=bearer(admin)).json()["records"]
        ops = [x["operation"] for x in records]
        assert ops[:3] == ["erase.purpose", "verify", "purpose.define"]
