"""Two servers starting at once on an empty database create one admin key between them.

Each "server" is a key store of its own (its own engine, connections and in-process locks, as
two ``facegate serve`` processes have) on the same SQLite file or PostgreSQL database. Reading
the keys is slowed down so that, without the writer lock around check-and-create, both would
find no key and both would create one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from facegate.server.keys import ApiKey, KeyStore, NewKey
from facegate.store.engines import postgres_engine, sqlite_engine
from facegate.store.sql import DB_FILE_NAME


def _slow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    read = KeyStore.list

    def slow(self: KeyStore) -> list[ApiKey]:
        found = read(self)
        time.sleep(0.3)  # the other server reads meanwhile
        return found

    monkeypatch.setattr(KeyStore, "list", slow)


def _start_two(open_store: Callable[[], KeyStore]) -> list[NewKey | None]:
    stores = [open_store(), open_store()]
    for store in stores:
        store.list()  # schema migrated before the race starts
    gate = threading.Barrier(2)
    results: list[NewKey | None] = [None, None]
    errors: list[BaseException] = []

    def start(i: int) -> None:
        try:
            gate.wait()
            results[i] = stores[i].ensure_admin()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    active = [k for k in stores[0].list() if k.revoked_at is None]
    for store in stores:
        store.close()
    assert not errors, errors
    assert len(active) == 1, f"{len(active)} admin keys created"
    return results


def _one_created(results: list[NewKey | None]) -> None:
    made = [r for r in results if r is not None]
    assert len(made) == 1 and made[0].key.is_admin and made[0].key.any_purpose


def test_two_servers_on_one_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine_path = tmp_path / DB_FILE_NAME
    _slow_list(monkeypatch)
    _one_created(_start_two(lambda: KeyStore(sqlite_engine(engine_path))))


def test_two_servers_on_one_postgres_database(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _slow_list(monkeypatch)
    _one_created(_start_two(lambda: KeyStore(postgres_engine(pg_url))))
