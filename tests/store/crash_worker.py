"""Random gallery writes until killed: the workload of the kill -9 audit test.

``python crash_worker.py DATA SEED`` opens the gallery in DATA and, forever, picks one write
at random: create a subject and grant consent, enrol, revoke or grant consent, erase a
template or a subject, define or erase a temporary purpose (with a consent in it), create or
revoke an API key. It prints ``S <id>`` once a subject's creation has committed (the test
then knows that subject existed) and ``. <n>`` after each write.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from gallery_fakes import FakeEngine, face_image

from facegate.errors import FacegateError
from facegate.gallery.service import Gallery
from facegate.server.keys import KeyStore
from facegate.store.protocol import Purpose


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _step(gallery: Gallery, keys: KeyStore, rng: random.Random, n: int) -> None:
    subjects = gallery.subjects()
    door = {s.id for s in gallery.subjects("door")}
    op = rng.choice(
        [
            "new",
            "new",
            "enroll",
            "enroll",
            "enroll",
            "revoke",
            "grant",
            "erase_template",
            "erase",
            "purpose",
            "erase_purpose",
            "key",
            "revoke_key",
        ]
    )
    if op == "new" or not subjects:
        subject = gallery.create_subject(f"person {n}")
        _say(f"S {subject.id}")
        gallery.grant_consent(subject.id, "door", text=f"I agree ({n})", method="kiosk")
    elif op == "enroll" and door:
        sid = rng.choice(sorted(door))
        person = gallery.store.get_subject(sid).row
        images = [face_image(person, rng.randrange(1000)) for _ in range(rng.randint(1, 3))]
        gallery.enroll(sid, images, "door", skip_failures=True)
    elif op == "revoke" and door:
        gallery.revoke_consent(rng.choice(sorted(door)), "door")
    elif op == "grant":
        lapsed = [s.id for s in subjects if s.id not in door]
        if lapsed:
            gallery.grant_consent(rng.choice(lapsed), "door", evidence=f"form {n}")
    elif op == "erase_template":
        templates = [t for s in subjects for t in gallery.templates(s.id)]
        if templates:
            gallery.erase_template(rng.choice(templates).id)
    elif op == "erase":
        gallery.erase(rng.choice(subjects).id)
    elif op == "purpose":
        name = f"tmp{rng.randrange(3)}"
        gallery.define_purpose(Purpose(name, "temporary", datetime.now(UTC), retention_days=n))
        gallery.grant_consent(rng.choice(subjects).id, name, evidence="tmp")
    elif op == "erase_purpose":
        names = [p.name for p in gallery.purposes() if p.name.startswith("tmp")]
        if names:
            gallery.erase_purpose(rng.choice(names))
    elif op == "key":
        keys.create(["identify"], ["door"], name=f"key {n}")
    elif op == "revoke_key":
        active = [k for k in keys.list() if k.revoked_at is None]
        if active:
            keys.revoke(rng.choice(active).id)


def main(data: Path, seed: int) -> None:
    rng = random.Random(seed)
    with Gallery.open(data, engine=FakeEngine()) as gallery:
        gallery.add_purpose("door")
        keys = KeyStore(gallery.store.engine, gallery.audit)  # type: ignore[attr-defined]
        for n in range(1_000_000):
            try:
                _step(gallery, keys, rng, seed * 1_000_000 + n)
            except FacegateError:
                pass  # a refusal (recorded as such) is part of the workload
            _say(f". {n}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
