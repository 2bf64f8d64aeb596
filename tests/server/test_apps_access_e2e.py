"""Access control end to end over HTTP with the real engine on real photos.

A housing block's door: residents enrolled from the face_recognition example photos, a
schedule, a key card (the alternative), a visitor pass, a stranger, two people in the passage,
a kiosk key refused for a site it is not bound to; each door decision arrives signed at a
loopback door controller and is a decision record with its audit record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps_e2e import Receiver, bearer, enrol, post_image, problem, real_app

from facegate.video.events import verify_signature

NOTICE = {
    "processor": "Block 7 housing co-op",
    "contact": "privacy@block7.example",
    "alternative": "Use your key card or PIN at the same door; a face is never required.",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_a_door_by_face_card_and_visitor_pass(
    tmp_path: Path, examples: Path, receiver: Receiver
) -> None:
    with real_app(tmp_path / "data") as (client, tokens):
        admin, kiosk = bearer(tokens["admin"]), bearer(tokens["kiosk"])
        r = client.put(
            "/v1/apps/access/sites/block-7",
            json={"timezone": "Europe/Berlin", "webhook_url": receiver.url},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        site = r.json()
        secret = site["webhook_secret"].encode()
        assert site["purpose"] == "access:block-7"
        door = "/v1/apps/access/sites/block-7"
        # no notice yet: no face is processed
        problem(post_image(client, f"{door}/passages", examples / "obama2.jpg", kiosk), 422,
                "application")  # fmt: skip
        r = client.put("/v1/apps/notices/access:block-7", json=NOTICE, headers=admin)
        assert r.status_code == 200, r.text
        obama = enrol(client, admin, "Resident A", "access:block-7", examples / "obama.jpg")
        r = client.post(f"{door}/schedules", json={"window": "daily 00:00-24:00"}, headers=admin)
        assert r.status_code == 201, r.text
        r = client.post(
            f"{door}/credentials",
            json={"subject_id": obama, "kind": "card", "value": "04:A3:2B:91"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        card_id = r.json()["id"]

        opened = post_image(client, f"{door}/passages", examples / "obama2.jpg", kiosk).json()
        assert (opened["decision"], opened["reason"], opened["subject_id"]) == (
            "open", "allowed", obama,
        )  # fmt: skip
        assert opened["operating_point"].startswith("fpir=")
        stranger = post_image(client, f"{door}/passages", examples / "biden.jpg", kiosk).json()
        assert (stranger["decision"], stranger["alerts"]) == ("closed", ["stranger"])
        two = post_image(client, f"{door}/passages", examples / "two_people.jpg", kiosk).json()
        assert (two["decision"], two["reason"]) == ("closed", "tailgating")
        assert "tailgating" in two["alerts"] and two["faces"] == 2

        # the alternative path: the key card, same door, same schedule
        card = client.post(
            f"{door}/passages/credential", json={"kind": "card", "value": "04:A3:2B:91"},
            headers=kiosk,
        ).json()  # fmt: skip
        assert (card["decision"], card["method"], card["subject_id"]) == ("open", "card", obama)
        wrong = client.post(
            f"{door}/passages/credential", json={"kind": "pin", "value": "0000"}, headers=kiosk
        ).json()
        assert (wrong["decision"], wrong["reason"]) == ("closed", "unknown-credential")

        # a visitor pass: a consent for the site that expires, the photo taken at the desk
        visitor = post_image(
            client, f"{door}/visitors", examples / "knn_examples/train/biden/biden2.jpg", admin,
            display_name="Visitor", hours="2", host="Resident A", consent_text="I agree...",
        )  # fmt: skip
        assert visitor.status_code == 201, visitor.text
        pass_ = visitor.json()
        consents = client.get(f"/v1/subjects/{pass_['subject_id']}", headers=admin).json()
        assert consents["consents"][0]["expires_at"] is not None
        seen = post_image(client, f"{door}/passages", examples / "biden.jpg", kiosk).json()
        assert (seen["decision"], seen["subject_id"]) == ("open", pass_["subject_id"])

        # refused: a kiosk key bound to another site
        other = bearer(tokens["other"])
        problem(post_image(client, f"{door}/passages", examples / "obama2.jpg", other), 403,
                "permission-denied")  # fmt: skip
        problem(client.get("/v1/apps/access/sites/nowhere", headers=admin), 404,
                "app-record-not-found")  # fmt: skip

        records = client.get("/v1/audit?limit=500", headers=admin).json()["records"]
        doors = [r["decision"] for r in records if r["operation"] == "app.access"]
        assert len(doors) == 6, doors
        assert sum(d.startswith("open") for d in doors) == 3
        assert any("method card" in d for d in doors)
        refused = [r for r in records if r["decision"].startswith("refused")]
        assert any(r["decision"] == "refused: permission-denied (403)" for r in refused), refused
        decisions = client.get("/v1/apps/decisions?app=access", headers=admin).json()["decisions"]
        assert [d["outcome"] for d in decisions].count("deny") == 3
        assert obama not in json.dumps(decisions)  # subjects only by keyed pseudonym
        first = decisions[-1]  # newest first: the first passage, by obama2.jpg
        photo_sha = hashlib.sha256((examples / "obama2.jpg").read_bytes()).hexdigest()
        assert (first["outcome"], first["detail"]["image_sha256"]) == ("open", photo_sha)
        # the card is lost: withdrawn, it stops working at once
        assert client.delete(f"{door}/credentials/{card_id}", headers=admin).status_code == 204
        lost = client.post(
            f"{door}/passages/credential", json={"kind": "card", "value": "04:A3:2B:91"},
            headers=kiosk,
        ).json()  # fmt: skip
        assert (lost["decision"], lost["reason"]) == ("closed", "unknown-credential")
        problem(client.delete(f"{door}/credentials/{card_id}", headers=admin), 404,
                "app-record-not-found")  # fmt: skip

    receiver.wait(7)
    bodies = [json.loads(b) for b, _ in receiver.bodies]
    assert [b["decision"] for b in bodies] == [
        "open", "closed", "closed", "open", "closed", "open", "closed",
    ]  # fmt: skip
    assert all(verify_signature(secret, body, sig) for body, sig in receiver.bodies)
    assert all(set(b) >= {"type", "site", "seq", "reason", "method", "at"} for b in bodies)
    assert bodies[0]["decision_id"] == opened["decision_id"]
