"""The HTTP API on a fake engine: every endpoint, its errors, keys, scopes and purposes."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient
from server_fakes import Keys, bearer, face_png

PROBLEM = "application/problem+json"


def _subject(client: TestClient, key: str, name: str = "Alice", purpose: str = "door") -> str:
    r = client.post("/v1/subjects", json={"display_name": name}, headers=bearer(key))
    assert r.status_code == 201, r.text
    sid: str = r.json()["subject_id"]
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": purpose, "evidence": "I agree to door access by face (form 7)"},
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text
    return sid


def _enroll(client: TestClient, key: str, sid: str, person: int, purpose: str = "door") -> Any:
    files = [("image", (f"p{v}.png", face_png(person, v), "image/png")) for v in (1, 2)]
    r = client.post(
        f"/v1/subjects/{sid}/faces", data={"purpose": purpose}, files=files, headers=bearer(key)
    )
    assert r.status_code == 200, r.text
    return r.json()


def _problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["type"] == f"/problems/{kind}", body
    assert body["status"] == status and body["detail"] and body["request_id"]
    return body


def test_health_ready_docs_console(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"status": "ready", "workers": 2}
    spec = client.get("/openapi.json").json()
    for path in ("/v1/detect", "/v1/identify", "/v1/subjects/{subject_id}/consents"):
        assert path in spec["paths"]
    content = spec["paths"]["/v1/identify"]["post"]["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "facegate" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_401_without_valid_key(client: TestClient, keys: Keys) -> None:
    png = face_png(1)
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        bearer("fg_000000000000_nope"),
        bearer("not-a-key"),
        bearer(keys.revoked),
        bearer(keys.admin[:-2] + "xx"),
    ):
        r = client.post("/v1/detect", files={"image": ("a.png", png)}, headers=headers)
        body = _problem(r, 401, "authentication")
        assert r.headers["www-authenticate"] == "Bearer"
        assert keys.admin not in str(body)


def test_403_outside_scope_or_purpose(client: TestClient, keys: Keys) -> None:
    png = {"image": ("a.png", face_png(1))}
    r = client.post(
        "/v1/identify", data={"purpose": "door"}, files=png, headers=bearer(keys.detect)
    )
    assert "scope" in _problem(r, 403, "permission-denied")["detail"]
    r = client.post("/v1/identify", data={"purpose": "bank"}, files=png, headers=bearer(keys.door))
    assert "purpose" in _problem(r, 403, "permission-denied")["detail"]
    sid = _subject(client, keys.door)
    r = client.delete(f"/v1/subjects/{sid}", headers=bearer(keys.door))
    _problem(r, 403, "permission-denied")
    r = client.get(f"/v1/subjects/{sid}/export", headers=bearer(keys.door))
    _problem(r, 403, "permission-denied")
    r = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "bank", "evidence": "x"},
        headers=bearer(keys.door),
    )
    _problem(r, 403, "permission-denied")


def test_detect_multipart_and_base64_json(client: TestClient, keys: Keys) -> None:
    png = face_png(3, faces=2)
    r = client.post("/v1/detect", files={"image": ("two.png", png)}, headers=bearer(keys.detect))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"], len(body["faces"])) == (32, 32, 2)
    assert body["faces"][0]["box"] == [10.0, 10.0, 130.0, 130.0]
    assert set(body["faces"][0]) == {"box", "score", "landmarks"}
    b64 = base64.b64encode(png).decode()
    for value in (b64, "data:image/png;base64," + b64):
        again = client.post("/v1/detect", json={"image": value}, headers=bearer(keys.admin))
        assert again.json() == body


def test_enrol_identify_revoke_erase(client: TestClient, keys: Keys) -> None:
    alice = _subject(client, keys.door, "Alice")
    bob = _subject(client, keys.door, "Bob")
    assert len(_enroll(client, keys.door, alice, 5)["added"]) == 2
    b64 = [base64.b64encode(face_png(6, v)).decode() for v in (1, 2)]
    enrolled = client.post(
        f"/v1/subjects/{bob}/faces",
        json={"purpose": "door", "images": b64},
        headers=bearer(keys.door),
    ).json()
    assert enrolled["subject"] == "Bob" and len(enrolled["added"]) == 2

    probe = {"image": ("probe.png", face_png(5, 9))}
    r = client.post(
        "/v1/identify",
        data={"purpose": "door", "top_k": "2"},
        files=probe,
        headers=bearer(keys.door),
    )
    assert r.status_code == 200, r.text
    face = r.json()["faces"][0]
    assert (face["subject"], face["subject_id"]) == ("Alice", alice)
    assert [c["subject"] for c in face["candidates"]] == ["Alice"]  # Bob is below the threshold
    assert face["operating_point"] == "fpir=0.01"
    stranger = client.post(
        "/v1/identify",
        json={"purpose": "door", "image": base64.b64encode(face_png(40)).decode()},
        headers=bearer(keys.door),
    ).json()
    assert stranger["faces"][0]["subject"] is None and stranger["gallery_size"] == 2
    assert stranger["faces"][0]["candidates"] == []  # "unknown" does not list the gallery

    listed = client.get("/v1/subjects", headers=bearer(keys.door)).json()["subjects"]
    assert {s["subject"] for s in listed} == {"Alice", "Bob"}
    assert client.get("/v1/subjects?purpose=door", headers=bearer(keys.admin)).json()["subjects"]
    shown = client.get(f"/v1/subjects/{alice}", headers=bearer(keys.door)).json()
    assert shown["templates"] == 2 and shown["consents"][0]["evidence"].startswith("I agree")

    r = client.delete(f"/v1/subjects/{alice}/consents/door", headers=bearer(keys.door))
    assert r.json()["revoked"] is True
    after = client.post(
        "/v1/identify", data={"purpose": "door"}, files=probe, headers=bearer(keys.door)
    ).json()
    assert after["faces"][0]["subject"] is None
    r = client.post(
        f"/v1/subjects/{alice}/faces",
        data={"purpose": "door"},
        files={"image": ("x.png", face_png(5, 3))},
        headers=bearer(keys.door),
    )
    _problem(r, 409, "consent-required")

    export = client.get(f"/v1/subjects/{bob}/export", headers=bearer(keys.admin)).json()
    assert export["subject"]["subject"] == "Bob" and len(export["templates"]) == 2
    assert "vector" not in str(export["templates"])
    assert {e["operation"] for e in export["audit_records"]} >= {"enroll", "consent.grant"}
    assert client.delete(f"/v1/subjects/{bob}", headers=bearer(keys.admin)).json() == {
        "erased": bob
    }
    _problem(
        client.get(f"/v1/subjects/{bob}", headers=bearer(keys.admin)), 404, "subject-not-found"
    )


def test_verify_pair_and_subject(client: TestClient, keys: Keys) -> None:
    a, b, c = face_png(7, 1), face_png(7, 2), face_png(8)
    same = client.post(
        "/v1/verify",
        data={"purpose": "door"},
        files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
        headers=bearer(keys.door),
    ).json()
    assert same["match"] is True and same["operating_point"] == "fmr=0.0001"
    assert {"similarity", "threshold", "face_a", "face_b"} <= set(same)
    other = client.post(
        "/v1/verify",
        json={
            "purpose": "door",
            "image_a": base64.b64encode(a).decode(),
            "image_b": base64.b64encode(c).decode(),
        },
        headers=bearer(keys.door),
    ).json()
    assert other["match"] is False
    sid = _subject(client, keys.door, "Carol")
    _enroll(client, keys.door, sid, 7)
    r = client.post(
        "/v1/verify",
        data={"purpose": "door", "subject_id": sid},
        files={"image": ("p.png", face_png(7, 5))},
        headers=bearer(keys.door),
    )
    assert r.json()["match"] is True and r.json()["subject_id"] == sid


def test_404s(client: TestClient, keys: Keys) -> None:
    missing = "0" * 32
    h = bearer(keys.admin)
    _problem(client.get(f"/v1/subjects/{missing}", headers=h), 404, "subject-not-found")
    _problem(client.delete(f"/v1/subjects/{missing}", headers=h), 404, "subject-not-found")
    _problem(client.get(f"/v1/subjects/{missing}/export", headers=h), 404, "subject-not-found")
    r = client.post(
        "/v1/identify",
        data={"purpose": "nowhere"},
        files={"image": ("a.png", face_png(1))},
        headers=h,
    )
    _problem(r, 404, "purpose-not-found")
    r = client.get("/v1/nothing-here", headers=h)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    # a purpose-bound key cannot see a subject consented only for other purposes
    sid = _subject(client, keys.admin, "Dan", purpose="bank")
    _problem(client.get(f"/v1/subjects/{sid}", headers=bearer(keys.door)), 404, "subject-not-found")


def test_413_body_and_pixels(client: TestClient, keys: Keys) -> None:
    big = b"\xff\xd8" + b"0" * 400_000
    r = client.post("/v1/detect", files={"image": ("big.jpg", big)}, headers=bearer(keys.admin))
    _problem(r, 413, "payload-too-large")
    wide = np.zeros((1000, 1200, 3), dtype=np.uint8)  # 1.2 MP > the 1 MP test limit
    png = bytes(cv2.imencode(".png", wide)[1])
    assert len(png) < 300_000
    r = client.post("/v1/detect", files={"image": ("wide.png", png)}, headers=bearer(keys.admin))
    _problem(r, 413, "image-too-large")


def test_415_media_types(client: TestClient, keys: Keys) -> None:
    h = bearer(keys.admin)
    r = client.post("/v1/detect", content=face_png(1), headers={**h, "Content-Type": "image/png"})
    _problem(r, 415, "unsupported-media")
    r = client.post("/v1/subjects", content="name=x", headers={**h, "Content-Type": "text/plain"})
    _problem(r, 415, "unsupported-media")
    r = client.post("/v1/detect", files={"image": ("a.txt", b"hello, not an image")}, headers=h)
    _problem(r, 415, "unsupported-image")


def test_422_bad_fields_and_corrupt_image(client: TestClient, keys: Keys) -> None:
    h = bearer(keys.admin)
    png = {"image": ("a.png", face_png(1))}
    body = _problem(client.post("/v1/identify", files=png, headers=h), 422, "invalid-request")
    assert body["errors"][0]["loc"] == ["body", "purpose"]
    for top_k in ("0", "21", "100"):
        r = client.post(
            "/v1/identify", data={"purpose": "door", "top_k": top_k}, files=png, headers=h
        )
        _problem(r, 422, "invalid-request")
    r = client.post("/v1/identify", data={"purpose": "door", "colour": "red"}, files=png, headers=h)
    _problem(r, 422, "invalid-request")
    _problem(client.post("/v1/detect", json={}, headers=h), 422, "invalid-request")
    _problem(client.post("/v1/detect", json={"image": "!!"}, headers=h), 422, "invalid-request")
    _problem(client.post("/v1/detect", json=[1], headers=h), 422, "invalid-request")
    r = client.post(
        "/v1/detect", content=b"{oops", headers={**h, "Content-Type": "application/json"}
    )
    _problem(r, 422, "invalid-request")
    _problem(
        client.post("/v1/subjects", json={"display_name": " "}, headers=h), 422, "invalid-request"
    )
    _problem(client.get("/v1/audit?limit=0", headers=h), 422, "invalid-request")
    ok, jpeg = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    truncated = bytes(jpeg)[: len(jpeg) // 2]
    r = client.post("/v1/detect", files={"image": ("cut.jpg", truncated)}, headers=h)
    _problem(r, 422, "corrupt-image")
    sid = _subject(client, keys.admin, "Eve")
    r = client.post(
        f"/v1/subjects/{sid}/faces",
        data={"purpose": "door"},
        files={"image": ("two.png", face_png(9, faces=2))},
        headers=h,
    )
    body = _problem(r, 422, "enrollment")
    assert "2 faces" in body["failures"][0]["error"]
    r = client.post(
        "/v1/verify",
        data={"purpose": "door", "operating_point": "fmr=2"},
        files={"image_a": ("a.png", face_png(1)), "image_b": ("b.png", face_png(1))},
        headers=h,
    )
    _problem(r, 422, "config")


def test_audit_log(client: TestClient, keys: Keys) -> None:
    sid = _subject(client, keys.door)
    _enroll(client, keys.door, sid, 11)
    client.post(
        "/v1/identify",
        data={"purpose": "door"},
        files={"image": ("p.png", face_png(11, 4))},
        headers=bearer(keys.door),
    )
    client.post(
        "/v1/identify",
        data={"purpose": "bank"},
        files={"image": ("p.png", face_png(11, 4))},
        headers=bearer(keys.door),
    )
    mine = client.get("/v1/audit", headers=bearer(keys.door)).json()
    assert mine["kind"] == "audit-chain" and mine["tamper_evident"] is True
    ops = [(r["operation"], r["purpose"], r["decision"]) for r in mine["records"]]
    assert ops[0] == ("identify", "bank", "refused: permission-denied (403)")
    assert ops[1] == ("identify", "door", "1 known, 0 unknown")
    ref = client.get(f"/v1/subjects/{sid}/export", headers=bearer(keys.admin)).json()[
        "audit_subject_ref"
    ]
    assert mine["records"][1]["subject_refs"] == [ref] and mine["records"][1]["score_band"]
    assert ("enroll", "door", "added 2, skipped 0, failed 0") in ops
    assert ("consent.grant", "door", "granted") in ops
    assert all(r["key_id"] == keys.door.split("_")[1] for r in mine["records"])
    assert "Alice" not in str(mine) and sid not in str(mine)
    client.post("/v1/subjects", json={"display_name": "Zed"}, headers=bearer(keys.admin))
    everything = client.get("/v1/audit?limit=2", headers=bearer(keys.admin)).json()
    assert len(everything["records"]) == 2 and everything["next_before"]
    older = client.get(
        f"/v1/audit?before={everything['next_before']}", headers=bearer(keys.admin)
    ).json()
    assert older["records"][0]["seq"] < everything["next_before"]
    by_subject = client.get(f"/v1/audit?subject_id={sid}", headers=bearer(keys.admin)).json()
    assert {r["operation"] for r in by_subject["records"]} >= {"identify", "enroll", "export"}
    check = client.get("/v1/audit/verify", headers=bearer(keys.admin)).json()
    assert check["ok"] is True and check["records"] >= 5
    assert client.get("/v1/audit", headers=bearer(keys.detect)).json()["records"] == []


def test_me_purposes_metrics_problem_types(client: TestClient, keys: Keys) -> None:
    me = client.get("/v1/me", headers=bearer(keys.door)).json()
    assert me["purposes"] == ["door"] and "secret" not in str(me) and keys.door not in str(me)
    _subject(client, keys.admin, "Fay", purpose="bank")
    _subject(client, keys.admin, "Gus", purpose="door")
    listed = client.get("/v1/purposes", headers=bearer(keys.door)).json()["purposes"]
    assert [p["name"] for p in listed] == ["door"]
    assert listed[0]["legal_basis"] == "explicit-consent" and listed[0]["consent_required"]
    client.post(
        "/v1/detect", files={"image": ("a.png", face_png(1, faces=3))}, headers=bearer(keys.admin)
    )
    client.post("/v1/detect", headers=bearer(keys.admin))
    text = client.get("/metrics").text
    assert 'facegate_faces_processed_total{operation="detect"} 3.0' in text
    assert 'facegate_http_requests_total{method="POST",route="/v1/detect",status="200"}' in text
    assert 'facegate_errors_total{type="unsupported-media"} 1.0' in text
    assert "facegate_http_request_duration_seconds_bucket" in text
    kind = client.get("/problems/no-face").json()
    assert kind["status"] == 422 and kind["title"] == "No face"
    assert client.get("/problems/bogus").status_code == 404


def test_below_threshold_candidates_are_admin_only(client: TestClient, keys: Keys) -> None:
    for person, name in ((1, "Ann"), (2, "Ben")):
        _enroll(client, keys.admin, _subject(client, keys.admin, name), person)
    probe = {"image": ("probe.png", face_png(40))}
    form = {"purpose": "door", "top_k": "5", "below_threshold": "true"}
    r = client.post("/v1/identify", data=form, files=probe, headers=bearer(keys.door))
    _problem(r, 403, "permission-denied")
    r = client.post("/v1/identify", data=form, files=probe, headers=bearer(keys.admin))
    assert r.status_code == 200, r.text
    face = r.json()["faces"][0]
    assert face["subject"] is None and len(face["candidates"]) == 2


def test_verify_reads_404_for_a_subject_the_key_may_not_see(client: TestClient, keys: Keys) -> None:
    payer = _subject(client, keys.admin, "Pat", purpose="payment")
    _enroll(client, keys.admin, payer, 7, purpose="payment")
    lapsed = _subject(client, keys.admin, "Lee")
    _enroll(client, keys.admin, lapsed, 8)
    client.delete(f"/v1/subjects/{lapsed}/consents/door", headers=bearer(keys.admin))
    missing = "0" * 32
    details = set()
    for sid, person in ((payer, 7), (lapsed, 8), (missing, 9)):
        form = {"purpose": "door", "subject_id": sid}
        image = {"image": ("p.png", face_png(person, 9))}
        r = client.post("/v1/verify", data=form, files=image, headers=bearer(keys.door))
        details.add(_problem(r, 404, "subject-not-found")["detail"].replace(sid, "ID"))
    assert len(details) == 1  # the same answer for all three


def test_consent_already_expired_is_a_422_and_revokes_nothing(
    client: TestClient, keys: Keys
) -> None:
    sid = _subject(client, keys.admin, "Kim")
    body = {"purpose": "door", "evidence": "form 9", "expires_at": "2020-01-01T00:00:00Z"}
    r = client.post(f"/v1/subjects/{sid}/consents", json=body, headers=bearer(keys.admin))
    _problem(r, 422, "invalid-request")
    consents = client.get(f"/v1/subjects/{sid}", headers=bearer(keys.admin)).json()["consents"]
    assert len(consents) == 1 and consents[0]["revoked_at"] is None
