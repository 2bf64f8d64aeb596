"""Attempts: one person's go at an application (a payment at a till, a registration, a door).

An attempt starts when the kiosk has something to decide (an amount to pay, a document to
check) and ends with a decision, or when the person chooses the alternative path. Once the
alternative is chosen the attempt never offers the face path again (``face_offered`` is false,
face calls on it are refused with :class:`AttemptClosedError`): choosing not to use one's face
is final for that attempt and costs nothing, no repeated prompting. Attempts live in memory
for ``ttl_s`` (they last seconds to minutes) and belong to the API key that opened them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from facegate.errors import AttemptClosedError, AttemptNotFoundError


class AttemptState(StrEnum):
    OPEN = "open"  # the face path (and the alternative) are offered
    STEP_UP = "step-up"  # the face matched; the PIN is asked as well
    DECIDED = "decided"
    ALTERNATIVE = "alternative"  # the person chose the non-face path


@dataclass(slots=True)
class Attempt:
    """One attempt; ``data`` holds the application's own facts (amount, till, document)."""

    id: str
    app: str
    purpose: str
    key_id: str
    created: float
    data: dict[str, Any]
    state: AttemptState = AttemptState.OPEN
    outcome: str | None = None
    decision_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def face_offered(self) -> bool:
        return self.state is AttemptState.OPEN

    @contextmanager
    def deciding(self, check: Callable[[], None] | None = None) -> Iterator[None]:
        """Claim an open attempt for its one face decision, made in the ``with`` block.

        Under the attempt's lock: refuse (409) unless it is open, run ``check`` (e.g. a frame
        that was only a preview), and mark it decided, so a second face call at the same
        moment is refused. When the block raises, the attempt was refused, not decided: it is
        open again and the person may try again.
        """
        with self.lock:
            Attempts.require(self, AttemptState.OPEN)
            if check is not None:
                check()
            self.state = AttemptState.DECIDED
        try:
            yield
        except BaseException:
            self.state = AttemptState.OPEN
            raise

    def to_dict(self, alternatives: tuple[str, ...]) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "purpose": self.purpose,
            "state": self.state.value,
            "outcome": self.outcome,
            "decision_id": self.decision_id,
            "face_offered": self.face_offered,
            "alternatives": list(alternatives),
            **self.data,
        }


class Attempts:
    """The server's open attempts (thread-safe)."""

    def __init__(
        self,
        *,
        ttl_s: float = 600.0,
        max_attempts: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_attempts = max_attempts
        self.clock = clock
        self._entries: dict[str, Attempt] = {}
        self._lock = threading.Lock()

    def open(self, app: str, purpose: str, key_id: str, data: Mapping[str, Any]) -> Attempt:
        now = self.clock()
        with self._lock:
            for aid in [a for a, e in self._entries.items() if now - e.created > self.ttl_s]:
                del self._entries[aid]
            if len(self._entries) >= self.max_attempts:
                del self._entries[min(self._entries, key=lambda a: self._entries[a].created)]
            attempt = Attempt(f"at_{secrets.token_urlsafe(12)}", app, purpose, key_id, now, {})
            attempt.data.update(data)
            self._entries[attempt.id] = attempt
        return attempt

    def get(self, attempt_id: str, key_id: str, app: str) -> Attempt:
        """The attempt of ``key_id`` for ``app`` (another key's or app's reads as unknown)."""
        with self._lock:
            attempt = self._entries.get(attempt_id)
        if (
            attempt is None
            or attempt.key_id != key_id
            or attempt.app != app
            or self.clock() - attempt.created > self.ttl_s
        ):
            raise AttemptNotFoundError(f"no {app} attempt {attempt_id!r}")
        return attempt

    @staticmethod
    def require(attempt: Attempt, *states: AttemptState) -> None:
        """Refuse (409) unless the attempt is in one of ``states``."""
        if attempt.state not in states:
            if attempt.state is AttemptState.ALTERNATIVE:
                raise AttemptClosedError(
                    f"attempt {attempt.id}: the person chose the alternative path; "
                    "the face path is not offered again"
                )
            raise AttemptClosedError(f"attempt {attempt.id} is {attempt.state.value}")
