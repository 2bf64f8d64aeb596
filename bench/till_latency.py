"""Decision latency at the till after capture (the liveness challenge excluded).

What is timed is :meth:`facegate.apps.till.Till.pay_by_face` on a raw camera frame: decode,
detect, landmarks, embed, the liveness evidence's face check, the search narrowed by the
payer's phone digits, the decision and its record (decision row + audit record, one SQLite
transaction). The liveness session itself is not timed (it runs while the payer follows the
prompts, before capture). The gallery holds the payer (enrolled from a Hamilton frame) and
``--accounts`` other payers with random templates and random phone digits, so the digits
narrow the search as they would in a real gallery. Frames are the Hamilton clip's (640x360).
Run on a 2-core machine:

    nice -n 10 .venv/bin/python bench/till_latency.py --runs 60

Writes ``bench/results/till_latency.json`` with p50/p95/max and the load average before and
after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np

from facegate.apps import NoticeText, set_notice
from facegate.apps.pay_accounts import PayAccounts
from facegate.apps.payment import Capture
from facegate.apps.till import Till
from facegate.config import PaymentConfig
from facegate.gallery.service import Gallery
from facegate.liveness.evidence import LivenessEvidence
from facegate.pipeline.engine import FaceEngine
from facegate.store.protocol import NewTemplate, Purpose
from facegate.store.schema import utcnow

REPO = Path(__file__).resolve().parents[1]


def frames(clip: Path, first: int, count: int) -> list[bytes]:
    cap = cv2.VideoCapture(str(clip))
    out = []
    for index in range(first + count):
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= first:
            out.append(bytes(cv2.imencode(".jpg", bgr)[1]))
    cap.release()
    return out


def populate(gallery: Gallery, accounts: PayAccounts, n: int, pack: str) -> None:
    rng = np.random.default_rng(0)
    for k in range(n):
        subject = gallery.store.create_subject(f"payer {k}")
        gallery.grant_consent(subject.id, "payment", text="pay by face")
        vec = rng.normal(size=128).astype(np.float32)
        vec /= np.linalg.norm(vec)
        gallery.store.add_templates(subject.id, [NewTemplate(vec, pack, f"{k:064x}")], "payment")
        accounts.create(subject.id, f"{int(rng.integers(0, 10000)):04d}", "1234")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--clip",
        type=Path,
        default=REPO.parent / "shared" / "data" / "video" / "short_hamilton_clip.mp4",
    )
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--accounts", type=int, default=1000)
    args = ap.parse_args()
    shots = frames(args.clip, 90, args.runs + 1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as home:
        engine = FaceEngine()
        with Gallery.open(home, engine=engine) as gallery:
            gallery.define_purpose(Purpose("payment", "Pay by face", utcnow()))
            set_notice(gallery, "payment", NoticeText("Shop", "dpo@shop.example", "PIN or QR"))
            accounts = PayAccounts(gallery)
            populate(gallery, accounts, args.accounts, engine.pack_id)
            payer = gallery.create_subject("payer")
            gallery.grant_consent(payer.id, "payment", text="pay by face")
            gallery.enroll(payer.id, [shots[0]], "payment")
            accounts.create(payer.id, "4821", "2468")
            till = Till(gallery, PaymentConfig(), accounts)
            times, outcomes = [], []
            for jpeg in shots[1:]:
                faces = [f for f in engine.analyze(jpeg).faces if f.embedding is not None]
                if not faces:  # the singer turned away: no face to pay with in this frame
                    continue
                face = max(faces, key=lambda f: f.box.area)
                assert face.embedding is not None
                evidence = LivenessEvidence("lv_bench", True, "active-challenge-v1", "-", "bench",
                                            face.embedding.vector)  # fmt: skip
                start = time.perf_counter()
                done = till.pay_by_face(
                    Capture(jpeg), Decimal("12.50"), evidence, phone_last4="4821"
                )
                times.append(time.perf_counter() - start)
                outcomes.append(done.outcome)
    ms = np.array(times) * 1000
    result = {
        "what": "Till.pay_by_face after capture (decode, detect, embed, narrowed search, record)",
        "pack": "dlib",
        "frame": "640x360 JPEG (Hamilton clip)",
        "accounts": args.accounts + 1,
        "runs": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
        "approved": outcomes.count("approve"),
        "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
        "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    out = REPO / "bench" / "results" / "till_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
