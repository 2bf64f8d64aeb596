"""A second process on the same store, for the contract tests.

``python store_worker.py COMMAND DATA ARGS...`` opens the gallery of data dir DATA (and the
database of ``FACEGATE_STORE__URL`` when set) with the fake engine and runs one command:

- ``enrol FIRST COUNT [GO]``: people FIRST .. FIRST+COUNT-1 are created, consented for ``door``
  and enrolled (two images each); prints each subject id. With GO, prints ``ready`` once the
  gallery is open and waits for the file GO to exist before writing (to start writers at once).
- ``audit COUNT GO``: appends COUNT audit records on their own, started as ``enrol`` is.
- ``open GO``: waits for the file GO, then opens the (maybe new) store and says so.
- ``revoke SUBJECT`` / ``erase SUBJECT``: withdraws the ``door`` consent / erases the subject.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gallery_fakes import FakeEngine, face_image

from facegate.gallery.service import Gallery
from facegate.privacy.audit import Actor, AuditEvent


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wait_for(go: str | None) -> None:
    if go is None:
        return
    _say("ready")
    while not Path(go).exists():
        time.sleep(0.005)


def main(command: str, data: Path, args: list[str]) -> None:
    url = os.environ.get("FACEGATE_STORE__URL")
    if command == "open":  # several first opens at once: migrations, key check, purpose
        _wait_for(args[0])
    with Gallery.open(data, engine=FakeEngine(), store_url=url) as gallery:
        gallery.add_purpose("door")
        if command == "enrol":
            first, count = int(args[0]), int(args[1])
            _wait_for(args[2] if len(args) > 2 else None)
            for person in range(first, first + count):
                subject = gallery.create_subject(f"person {person}")
                gallery.grant_consent(subject.id, "door", f"form {person}")
                gallery.enroll(subject.id, [face_image(person, v) for v in range(2)], "door")
                _say(subject.id)
        elif command == "audit":
            _wait_for(args[1])
            actor = Actor(f"worker-{os.getpid()}")
            for n in range(int(args[0])):
                gallery.audit.append(AuditEvent("test.append", None, (), f"record {n}"), actor)
        elif command == "open":
            _say(f"opened {len(gallery.purposes())}")
        elif command == "revoke":
            gallery.revoke_consent(args[0], "door")
        elif command == "erase":
            gallery.erase(args[0])
        else:
            raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
