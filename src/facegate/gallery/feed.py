"""Keeping this process's search index in step with writes made by any process.

Mixed into :class:`facegate.gallery.service.Gallery`. Every write that changes what a search
may return appends to the store's change feed in its own transaction
(:mod:`facegate.store.changes`). Before each search, :meth:`GalleryFeed.sync` asks the store
for the feed's highest sequence number (one indexed query; nothing else happens when it has
not moved) and applies what this process has not seen: the subjects named are re-read from
the store for the purposes named, a purpose changed as a whole is reloaded. A CLI enrolment
beside a running server, or another worker's revocation or erasure, is therefore effective
in this process by its next search. :meth:`GalleryFeed.follow` also applies the feed on a
background thread, so an idle process does not fall behind. A process far behind (more than a
batch pending, or changes it has not seen already pruned from the feed) reloads its indexes
from the store instead, which holds every change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from sqlalchemy.exc import SQLAlchemyError

from facegate.errors import FacegateError
from facegate.gallery.analyzer import FaceAnalyzer
from facegate.store.index import SearchIndex
from facegate.store.protocol import Change, Store

log = logging.getLogger(__name__)

BATCH = 1000
"""Changes read per query; more than this many pending reload the loaded purposes instead."""


class GalleryFeed:
    """Applies the store's change feed to the search index."""

    store: Store
    _index: SearchIndex
    _loaded: set[str]
    _write: threading.RLock
    _seen: int
    _follower: threading.Thread | None
    _stop_following: threading.Event

    def _load(self, purpose: str, force: bool = False) -> None:
        raise NotImplementedError

    @property
    def engine(self) -> FaceAnalyzer:
        raise NotImplementedError

    def _start_feed(self) -> None:
        """Note where the feed stands; call *before* loading indexes (a change committed
        during the load is then applied again, which is harmless)."""
        self._seen = self.store.latest_change()

    def sync(self) -> int:
        """Apply every change not yet seen; returns how many were applied."""
        if self.store.latest_change() <= self._seen:
            return 0
        applied = 0
        with self._write:
            while True:
                pending = self.store.changes_since(self._seen, BATCH)
                if not pending:
                    return applied
                pruned = pending[0].seq != self._seen + 1  # what it has not seen is gone
                if len(pending) == BATCH or pruned:  # far behind: start again from the store
                    self._seen = self.store.latest_change()
                    for purpose in list(self._loaded):
                        self._load(purpose, force=True)
                    return applied + len(pending)
                self._apply(pending)
                self._seen = pending[-1].seq
                applied += len(pending)

    def _apply(self, changes: Iterable[Change]) -> None:
        reload: set[str] = set()
        subjects: dict[int, set[str]] = {}
        for change in changes:
            if change.kind == "purpose" and change.purpose is not None:
                reload.add(change.purpose)
            elif change.subject_row is not None:
                targets = {change.purpose} if change.purpose else set(self._loaded)
                subjects.setdefault(change.subject_row, set()).update(targets)
        names = {p.name for p in self.store.list_purposes()}
        for purpose in reload & self._loaded:
            if purpose in names:
                self._load(purpose, force=True)
            else:  # erased: nothing may be found in it any more
                self._index.load(purpose, [])
                self._loaded.discard(purpose)
        for row, purposes in subjects.items():
            self._refresh_subject(row, (purposes & self._loaded) - reload)
        log.debug("change feed applied up to %d", self._seen)

    def _refresh_subject(self, row: int, purposes: set[str]) -> None:
        """Re-read one subject's templates and consent for ``purposes`` from the store."""
        found = self.store.subjects_by_row([row]).get(row)
        for purpose in purposes:
            self._index.remove(purpose, row)
            if found is None or row not in self.store.active_rows(purpose, [row]):
                continue
            vectors = self.store.subject_vectors(found.id, self.engine.pack_id, purpose)
            if len(vectors):
                self._index.add(purpose, row, vectors)

    def follow(self, interval_s: float = 1.0) -> None:
        """Also apply the feed every ``interval_s`` seconds on a daemon thread (servers)."""
        if self._follower is not None:
            return
        self._stop_following.clear()
        self._follower = threading.Thread(
            target=self._follow, args=(interval_s,), name="facegate-change-feed", daemon=True
        )
        self._follower.start()

    def _follow(self, interval_s: float) -> None:
        while not self._stop_following.wait(interval_s):
            try:
                self.sync()
            except (FacegateError, SQLAlchemyError):  # keep following; a search syncs itself
                log.exception("applying the change feed failed; retrying")

    def stop_following(self) -> None:
        self._stop_following.set()
        if self._follower is not None:
            self._follower.join(timeout=10)
            self._follower = None
