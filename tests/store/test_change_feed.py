"""The change feed: a write by one gallery (process) reaches every other gallery's index by its
next search; nothing changed costs one query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gallery_fakes import FakeEngine, enrol_person, who
from sqlalchemy import event

from facegate.gallery.service import Gallery
from facegate.store.protocol import Purpose


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Gallery, Gallery]]:
    """Two galleries on one data dir, each with its own index, as two processes have."""
    with Gallery.open(tmp_path, engine=FakeEngine()) as server:
        server.add_purpose("door")
        server.load_indexes()
        with Gallery.open(tmp_path, engine=FakeEngine()) as cli:
            yield server, cli


def test_enrol_revoke_and_erase_elsewhere_reach_this_index(pair: tuple[Gallery, Gallery]) -> None:
    server, cli = pair
    assert who(server, 1) is None
    ann, bob = enrol_person(cli, 1), enrol_person(cli, 2)
    assert who(server, 1) == ann and who(server, 2) == bob
    cli.revoke_consent(ann, "door")
    assert who(server, 1) is None
    cli.grant_consent(ann, "door", "asked again")
    assert who(server, 1) == ann
    cli.erase(ann)
    assert who(server, 1) is None
    (template, *_) = cli.templates(bob)
    cli.erase_template(template.id)
    assert who(server, 2) == bob  # one template left
    cli.erase_template(cli.templates(bob)[0].id)
    assert who(server, 2) is None


def test_purpose_changes_elsewhere_reach_this_index(pair: tuple[Gallery, Gallery]) -> None:
    server, cli = pair
    ann = enrol_person(cli, 3)
    assert who(server, 3) == ann
    cli.erase_purpose("door")
    cli.add_purpose("door")
    assert who(server, 3) is None
    now = datetime.now(UTC)
    cli.define_purpose(Purpose("door", "", now, retention_days=30))
    assert server.store.get_purpose("door").retention_days == 30


def test_background_follow_applies_changes_without_a_search(
    pair: tuple[Gallery, Gallery],
) -> None:
    server, cli = pair
    server.follow(0.05)
    ann = enrol_person(cli, 4)
    deadline = datetime.now(UTC).timestamp() + 20
    while getattr(server.index_stats().get("door"), "subjects", 0) == 0:
        assert datetime.now(UTC).timestamp() < deadline, "the follower never applied the feed"
        server._stop_following.wait(0.05)
    assert server._seen == server.store.latest_change()
    assert who(server, 4) == ann
    server.stop_following()


def test_nothing_changed_costs_one_query(pair: tuple[Gallery, Gallery]) -> None:
    server, cli = pair
    enrol_person(cli, 5)
    assert server.sync() > 0
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = server.store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert server.sync() == 0
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "change_feed" in statements[0]
