"""Purposes bind admin keys too: only a key for any purpose (``*``) acts across purposes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from server_fakes import Keys, bearer, face_png

from facegate.config import Settings
from facegate.server.keys import KeyStore


@pytest.fixture
def door_admin(settings: Settings, keys: Keys) -> Iterator[str]:
    store = KeyStore.open(settings.home)
    try:
        yield store.create(["admin"], ["door"], "door admin").token
    finally:
        store.close()


def _subject(client: TestClient, key: str, purpose: str, person: int) -> str:
    r = client.post("/v1/subjects", json={"display_name": f"P{person}"}, headers=bearer(key))
    sid: str = r.json()["subject_id"]
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": purpose, "evidence": "form 7"},
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text
    files = [("image", ("p.png", face_png(person, 1), "image/png"))]
    r = client.post(
        f"/v1/subjects/{sid}/faces", data={"purpose": purpose}, files=files, headers=bearer(key)
    )
    assert r.status_code == 200, r.text
    return sid


@pytest.fixture
def payment_subject(client: TestClient, keys: Keys) -> str:
    return _subject(client, keys.admin, "payment", 3)


def test_door_admin_cannot_export_or_erase_a_payment_subject(
    client: TestClient, keys: Keys, door_admin: str, payment_subject: str
) -> None:
    sid = payment_subject
    assert client.get(f"/v1/subjects/{sid}/export", headers=bearer(door_admin)).status_code == 404
    assert client.delete(f"/v1/subjects/{sid}", headers=bearer(door_admin)).status_code == 404
    tid = client.get(f"/v1/subjects/{sid}/export", headers=bearer(keys.admin)).json()["templates"][
        0
    ]["id"]
    r = client.delete(f"/v1/subjects/{sid}/templates/{tid}", headers=bearer(door_admin))
    assert r.status_code == 404
    assert client.get(f"/v1/subjects/{sid}", headers=bearer(keys.admin)).json()["templates"] == 1


def test_door_admin_cannot_act_on_a_subject_also_held_for_payment(
    client: TestClient, keys: Keys, door_admin: str, payment_subject: str
) -> None:
    sid = payment_subject
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "door", "evidence": "form 8"},
        headers=bearer(keys.admin),
    )
    assert r.status_code == 201
    assert client.get(f"/v1/subjects/{sid}/export", headers=bearer(door_admin)).status_code == 403
    assert client.delete(f"/v1/subjects/{sid}", headers=bearer(door_admin)).status_code == 403
    assert client.get(f"/v1/subjects/{sid}", headers=bearer(keys.admin)).status_code == 200


def test_door_admin_acts_within_door(client: TestClient, keys: Keys, door_admin: str) -> None:
    sid = _subject(client, door_admin, "door", 4)
    export = client.get(f"/v1/subjects/{sid}/export", headers=bearer(door_admin))
    assert export.status_code == 200
    tid = export.json()["templates"][0]["id"]
    r = client.delete(f"/v1/subjects/{sid}/templates/{tid}", headers=bearer(door_admin))
    assert r.status_code == 200
    assert client.delete(f"/v1/subjects/{sid}", headers=bearer(door_admin)).status_code == 200


def test_door_admin_configures_and_erases_only_door(
    client: TestClient, keys: Keys, door_admin: str, payment_subject: str
) -> None:
    policy = {"legal_basis": "explicit-consent", "retention_days": 30}
    assert (
        client.put("/v1/purposes/payment", json=policy, headers=bearer(door_admin)).status_code
        == 403
    )
    assert client.delete("/v1/purposes/payment", headers=bearer(door_admin)).status_code == 403
    assert (
        client.get(f"/v1/subjects/{payment_subject}", headers=bearer(keys.admin)).status_code == 200
    )
    assert (
        client.put("/v1/purposes/door", json=policy, headers=bearer(door_admin)).status_code == 200
    )
    assert client.delete("/v1/purposes/door", headers=bearer(door_admin)).status_code == 200


def test_door_admin_reads_only_its_own_audit_records(
    client: TestClient, keys: Keys, door_admin: str, payment_subject: str
) -> None:
    _subject(client, door_admin, "door", 5)
    mine = client.get("/v1/me", headers=bearer(door_admin)).json()["id"]
    records = client.get("/v1/audit?limit=1000", headers=bearer(door_admin)).json()["records"]
    assert records and {r["key_id"] for r in records} == {mine}
    everyone = client.get("/v1/audit?limit=1000", headers=bearer(keys.admin)).json()["records"]
    assert len({r["key_id"] for r in everyone}) > 1
    assert client.get("/v1/audit/verify", headers=bearer(door_admin)).status_code == 403
    assert client.get("/v1/audit/verify", headers=bearer(keys.admin)).json()["ok"]
