"""``/v1/apps/payment`` on the fake engine: accounts, attempts, preview, PIN and QR paths."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from server_fakes import Keys, bearer, face_png

PROBLEM = "application/problem+json"
NOTICE = {"processor": "Shop Ltd", "contact": "dpo@shop.example", "alternative": "PIN or QR."}


def _problem(r: Any, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == f"/problems/{kind}", r.json()


def _setup(client: TestClient, keys: Keys) -> tuple[dict[str, str], str]:
    h = bearer(keys.admin)
    assert client.put("/v1/purposes/payment", json={}, headers=h).status_code == 200
    assert client.put("/v1/apps/notices/payment", json=NOTICE, headers=h).status_code == 200
    sid = client.post("/v1/subjects", json={"display_name": "Payer"}, headers=h).json()[
        "subject_id"
    ]
    r = client.post(
        f"/v1/subjects/{sid}/consents", json={"purpose": "payment", "text": "yes"}, headers=h
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/subjects/{sid}/faces",
        data={"purpose": "payment"},
        files={"image": ("e.png", face_png(7, 1), "image/png")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/apps/payment/accounts",
        json={"subject_id": sid, "phone_last4": "4821", "pin": "2468"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return h, r.json()["account_id"]


def test_attempt_preview_and_face_without_liveness(client: TestClient, keys: Keys) -> None:
    h, _ = _setup(client, keys)
    _problem(client.post("/v1/apps/payment/attempts", json={"amount": "0"}, headers=h), 422,
             "invalid-request")  # fmt: skip
    r = client.post("/v1/apps/payment/attempts", json={"amount": "12.50", "till": "t1"}, headers=h)
    assert r.status_code == 201, r.text
    attempt = r.json()
    assert attempt["face_offered"] and attempt["alternatives"] == ["pin", "qr"]
    assert attempt["amount_band"] == "small" and attempt["notice"]["processor"] == "Shop Ltd"
    url = f"/v1/apps/payment/attempts/{attempt['id']}"
    raw = face_png(7, 3, size=200)
    r = client.post(f"{url}/preview", files={"image": ("f.png", raw, "image/png")}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    preview = r.content
    form = {"phone_last4": "4821"}
    r = client.post(f"{url}/face", data=form, files={"image": ("p.jpg", preview, "image/jpeg")},
                    headers=h)  # fmt: skip
    _problem(r, 422, "invalid-request")
    assert "preview" in r.json()["detail"]
    r = client.post(f"{url}/face", data=form, files={"image": ("f.png", raw, "image/png")},
                    headers=h)  # fmt: skip
    _problem(r, 409, "liveness-required")
    # refused, not decided: the attempt still offers the face and the alternatives
    assert client.get(url, headers=h).json()["state"] == "open"
    records = client.get("/v1/audit", headers=h).json()["records"]
    refusals = sorted(x["decision"] for x in records if x["operation"] == "app.payment")
    assert refusals == ["refused: invalid-request (422)", "refused: liveness-required (409)"]
    _problem(client.post(f"{url}/pin", json={"pin": "2468"}, headers=h), 409, "attempt-closed")


def test_the_pin_path_after_the_alternative(client: TestClient, keys: Keys) -> None:
    h, account = _setup(client, keys)
    attempt = client.post("/v1/apps/payment/attempts", json={"amount": "30"}, headers=h).json()
    url = f"/v1/apps/payment/attempts/{attempt['id']}"
    r = client.post(f"{url}/alternative", json={"method": "pin"}, headers=h)
    assert r.status_code == 200 and r.json()["face_offered"] is False
    r = client.post(f"{url}/face", data={"phone_last4": "4821"},
                    files={"image": ("f.png", face_png(7, 3), "image/png")}, headers=h)  # fmt: skip
    _problem(r, 409, "attempt-closed")
    _problem(client.post(f"{url}/pin", json={"pin": "2468"}, headers=h), 422, "invalid-request")
    r = client.post(f"{url}/pin", json={"pin": "1111", "account_id": account}, headers=h)
    assert r.status_code == 200 and r.json()["receipt"]["outcome"] == "decline"
    assert r.json()["pins_left"] == 2 and r.json()["state"] == "alternative"
    r = client.post(f"{url}/pin", json={"pin": "2468", "account_id": account}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "decided" and body["outcome"] == "approve"
    assert body["receipt"]["method"] == "pin" and body["receipt"]["amount"] == "30.00"
    decisions = client.get("/v1/apps/decisions?app=payment", headers=h).json()["decisions"]
    assert [d["outcome"] for d in decisions] == ["approve", "decline", "alternative"]
    # the QR path: recorded, the attempt ends, no penalty
    other = client.post("/v1/apps/payment/attempts", json={"amount": "30"}, headers=h).json()
    r = client.post(f"/v1/apps/payment/attempts/{other['id']}/alternative",
                    json={"method": "qr"}, headers=h)  # fmt: skip
    assert r.json()["amount"] == other["amount"] and r.json()["outcome"] == "alternative"


def test_accounts_need_an_enrol_key_bound_to_payment(client: TestClient, keys: Keys) -> None:
    h, _ = _setup(client, keys)
    r = client.post("/v1/apps/payment/accounts",
                    json={"subject_id": "x", "phone_last4": "1234", "pin": "1234"},
                    headers=bearer(keys.door))  # fmt: skip
    _problem(r, 403, "permission-denied")
    r = client.post("/v1/apps/payment/accounts",
                    json={"subject_id": "x", "phone_last4": "12345", "pin": "1234"},
                    headers=h)  # fmt: skip
    _problem(r, 422, "invalid-request")
    r = client.post("/v1/apps/payment/accounts",
                    json={"subject_id": "nobody", "phone_last4": "1234", "pin": "1234"},
                    headers=h)  # fmt: skip
    _problem(r, 404, "subject-not-found")
