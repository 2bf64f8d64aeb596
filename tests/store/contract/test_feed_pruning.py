"""The change feed stays bounded, and a gallery that fell behind past what was pruned still
ends up with every change (it rebuilds its indexes from the store)."""

from __future__ import annotations

import pytest
from contract_backend import Backend
from gallery_fakes import enrol_person, who
from sqlalchemy import text

from facegate.store import changes


def _feed(backend: Backend) -> tuple[int, int, int]:
    engine = backend.engine()
    try:
        with engine.connect() as conn:
            rows, low, high = conn.execute(
                text("SELECT count(*), min(seq), max(seq) FROM change_feed")
            ).one()
        return int(rows), int(low), int(high)
    finally:
        engine.dispose()


def test_feed_is_pruned_and_a_gallery_behind_it_misses_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "KEEP", 5)
    monkeypatch.setattr(changes, "PRUNE_EVERY", 4)
    with backend.gallery() as server, backend.gallery() as cli:
        server.add_purpose("door")
        server.load_indexes()
        ann = enrol_person(cli, 1)
        assert who(server, 1) == ann  # in step: the server has applied the feed
        seen = server._seen
        others = {person: enrol_person(cli, person) for person in range(2, 9)}  # 14 changes
        cli.revoke_consent(ann, "door")
        rows, low, high = _feed(backend)
        assert high == cli.store.latest_change() == seen + 15  # numbers keep growing
        assert rows <= changes.KEEP + changes.PRUNE_EVERY and low == high - rows + 1
        assert low > seen + 1  # the next change the server needs was pruned
        assert who(server, 1) is None  # the revocation counts
        assert all(who(server, p) == sid for p, sid in others.items())
        assert server._seen == high
        cli.erase(others[2])  # and it follows the feed change by change again
        assert who(server, 2) is None and who(server, 3) == others[3]


def test_default_bounds_keep_more_than_a_poller_reads_at_once() -> None:
    from facegate.gallery.feed import BATCH

    assert changes.KEEP >= BATCH and changes.PRUNE_EVERY <= changes.KEEP
