"""``/v1/apps``: notices and signs, the alternative path of an attempt, decision records."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_fakes import Keys, bearer

from facegate.server.apps.state import AppsState

PROBLEM = "application/problem+json"
NOTICE = {
    "processor": "Corner Shop Ltd",
    "contact": "privacy@corner.example",
    "alternative": "Pay by PIN or QR code at the same till.",
}


def _purpose(client: TestClient, keys: Keys, name: str) -> None:
    r = client.put(
        f"/v1/purposes/{name}", json={"description": "Pay by face"}, headers=bearer(keys.admin)
    )
    assert r.status_code == 200, r.text


def test_notice_round_trip_sign_and_refusals(client: TestClient, keys: Keys) -> None:
    admin = bearer(keys.admin)
    _purpose(client, keys, "payment")
    r = client.get("/v1/apps/notices/payment", headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == "/problems/application"
    r = client.put("/v1/apps/notices/payment", json=NOTICE, headers=bearer(keys.door))
    assert r.status_code == 403
    r = client.put("/v1/apps/notices/payment", json={**NOTICE, "extra": 1}, headers=admin)
    assert r.status_code == 422
    r = client.put("/v1/apps/notices/payment", json=NOTICE, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["how_to_refuse"] == NOTICE["alternative"]
    got = client.get("/v1/apps/notices/payment", headers=admin).json()
    assert got["processor"] == "Corner Shop Ltd" and got["liveness_required"] is True
    # the door key is not bound to payment
    assert client.get("/v1/apps/notices/payment", headers=bearer(keys.door)).status_code == 403
    sign = client.get("/v1/apps/notices/payment/sign", headers=admin)
    assert sign.status_code == 200 and sign.headers["content-type"].startswith("text/html")
    assert "Face recognition in use" in sign.text and "Corner Shop Ltd" in sign.text
    text = client.get("/v1/apps/notices/payment/sign?format=text", headers=admin)
    assert text.text.startswith("FACE RECOGNITION IN USE")
    ops = [r["operation"] for r in client.get("/v1/audit", headers=admin).json()["records"]]
    assert "notice.define" in ops


def test_the_alternative_is_recorded_once_and_ends_the_face_path(
    client: TestClient, keys: Keys
) -> None:
    admin = bearer(keys.admin)
    _purpose(client, keys, "payment")
    r = client.get("/v1/apps/decisions", headers=admin)  # builds the apps state
    assert r.status_code == 200 and r.json() == {"decisions": []}
    state: AppsState = client.app.state.apps  # type: ignore[attr-defined]
    me = client.get("/v1/me", headers=admin).json()["id"]
    attempt = state.attempts.open("payment", "payment", me, {"amount": "12.00"})
    url = f"/v1/apps/payment/attempts/{attempt.id}"
    assert client.get(url, headers=admin).json()["face_offered"] is True
    r = client.post(f"{url}/alternative", json={"method": "fingerprint"}, headers=admin)
    assert r.status_code == 422
    r = client.post(f"{url}/alternative", json={"method": "qr"}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "alternative" and body["face_offered"] is False
    assert body["amount"] == "12.00"  # same amount: no penalty
    again = client.post(f"{url}/alternative", json={"method": "pin"}, headers=admin)
    assert again.status_code == 409 and again.json()["type"] == "/problems/attempt-closed"
    assert client.get(url, headers=bearer(keys.door)).status_code == 404
    (decision,) = client.get("/v1/apps/decisions?app=payment", headers=admin).json()["decisions"]
    assert decision["outcome"] == "alternative" and decision["subject_ref"] is None
    assert decision["detail"] == {"method": "qr", "attempt": attempt.id}
    records = client.get("/v1/audit", headers=admin).json()["records"]
    audit = [r for r in records if r["seq"] == decision["audit_seq"]]
    assert audit[0]["operation"] == "app.payment" and audit[0]["subject_refs"] == []
