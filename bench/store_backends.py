"""Store backends compared on one machine in one run: SQLite (the embedded default) and
PostgreSQL (shared state for many workers), through :class:`Gallery` with a stand-in engine.

The face engine is replaced by the test suite's fake (it decodes a 32x32 image and returns a
fixed embedding), so the numbers are the store's share: transactions, encryption, the audit
chain, the change feed, the consent re-check and the index. Face analysis costs the same on
both backends (docs/BENCHMARKS.md: about 100+ ms per image with dlib on 2 cores) and is left out.

Measured per backend:
- enrolment throughput: people per second, each = create subject + grant consent (with its
  audit record) + enrol one image (with its audit record): three write transactions;
- identification latency: ``Gallery.identify`` one probe at a time on a gallery of
  ``--subjects`` people, p50/p95/p99 (includes the change-feed poll and the consent re-check);
- the change-feed poll (``latest_change``, run before every search): median cost;
- one audit record appended in a transaction of its own (every identify and verify writes one,
  under the writer lock: the chain's commit rate bounds biometric operations per second for
  the whole deployment);
- PostgreSQL only, LISTEN/NOTIFY: time from a write's commit returning to a listener on
  another connection receiving its notification (the alternative to polling).

PostgreSQL runs on a throwaway cluster started here with its default durability (fsync and
synchronous commit on; SQLite's store uses synchronous=FULL), on loopback TCP, unless
``--pg-url`` names one. Writes JSON to ``--out``. Run:

    nice -n 10 .venv/bin/python bench/store_backends.py --subjects 500 --searches 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _folder in (REPO / "tests", REPO / "tests" / "store"):
    sys.path.insert(0, str(_folder))

from gallery_fakes import FakeEngine, face_image  # noqa: E402

from facegate.gallery.service import Gallery  # noqa: E402
from facegate.privacy.audit import AuditEvent  # noqa: E402
from pg_cluster import running_cluster  # noqa: E402

KEY = "7c" * 32


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "n": len(ordered)}


def _enrol(gallery: Gallery, people: range) -> float:
    start = time.perf_counter()
    for person in people:
        subject = gallery.create_subject(f"person {person}")
        gallery.grant_consent(subject.id, "door", f"form {person}")
        gallery.enroll(subject.id, [face_image(person, 0)], "door")
    return time.perf_counter() - start


def _identify(gallery: Gallery, subjects: int, searches: int) -> tuple[list[float], int]:
    times, found = [], 0
    for n in range(searches):
        person = (n * 7919) % subjects
        start = time.perf_counter()
        face = gallery.identify(face_image(person, 5), "door").faces[0]
        times.append(time.perf_counter() - start)
        found += face.match is not None
    return times, found


def _poll(gallery: Gallery, calls: int = 2000) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        gallery.store.latest_change()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 1)


def _audit_appends(gallery: Gallery, calls: int = 300) -> dict[str, float]:
    """One audit record in a transaction of its own: what every identify and verify adds,
    under the writer lock (the chain is one sequence for the whole deployment)."""
    times = []
    for n in range(calls):
        start = time.perf_counter()
        gallery.audit.append(AuditEvent("bench.append", None, (), f"record {n}"))
        times.append(time.perf_counter() - start)
    return _quantiles(times)


def measure(home: Path, url: str | None, subjects: int, searches: int) -> dict[str, Any]:
    with Gallery.open(home, engine=FakeEngine(), store_url=url, master_key=KEY) as gallery:
        gallery.add_purpose("door")
        _enrol(gallery, range(10_000, 10_010))  # warm-up: connections, caches
        took = _enrol(gallery, range(subjects))
        _identify(gallery, subjects, 20)
        times, found = _identify(gallery, subjects, searches)
        return {
            "enrol_people_per_s": round(subjects / took, 1),
            "enrol_ms_per_person": round(took / subjects * 1000, 2),
            "identify": _quantiles(times),
            "identify_found": found,
            "feed_poll_median_us": _poll(gallery),
            "audit_append": _audit_appends(gallery),
        }


def notify_latency(url: str, trials: int = 300) -> dict[str, Any]:
    """Commit-returned to notification-received, on two psycopg connections."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    received: list[float] = []
    ready = threading.Event()

    def listen() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("LISTEN facegate_changes")
            ready.set()
            for _ in conn.notifies(stop_after=trials, timeout=60):
                received.append(time.perf_counter())

    thread = threading.Thread(target=listen)
    thread.start()
    ready.wait(30)
    committed: list[float] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_feed (seq bigint)")
        conn.commit()
        for n in range(trials):
            conn.execute("INSERT INTO bench_feed VALUES (%s)", (n,))
            conn.execute("SELECT pg_notify('facegate_changes', %s)", (str(n),))
            conn.commit()
            committed.append(time.perf_counter())
            time.sleep(0.002)
    thread.join(60)
    delays = [r - c for r, c in zip(received, committed, strict=False)]
    return {**_quantiles(delays), "delivered": len(received), "sent": trials}


@contextmanager
def postgres(url: str | None) -> Iterator[tuple[str, str]]:
    if url is not None:
        yield url, "given"
        return
    with running_cluster(durable=True) as cluster:
        yield cluster.create_database(), "throwaway cluster, default durability"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--pg-url", default=None)
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "store_backends.json"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": os.getloadavg(),
        "subjects": args.subjects,
        "searches": args.searches,
    }
    with tempfile.TemporaryDirectory() as tmp, postgres(args.pg_url) as (url, how):
        results["sqlite"] = measure(Path(tmp) / "sqlite", None, args.subjects, args.searches)
        print("sqlite", results["sqlite"], flush=True)
        results["postgresql"] = measure(Path(tmp) / "pg", url, args.subjects, args.searches)
        results["postgresql"]["server"] = how
        print("postgresql", results["postgresql"], flush=True)
        results["postgresql_notify"] = notify_latency(url)
        print("notify", results["postgresql_notify"], flush=True)
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
