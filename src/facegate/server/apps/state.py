"""What the application routers share while the server runs: attempts and the decision log.

Built on first use and kept on ``app.state.apps``; ``AppsDep`` gives it to a route.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from facegate.apps.attempts import Attempts
from facegate.apps.decisions import DecisionLog
from facegate.server.deps import get_services

_BUILD = threading.Lock()
T = TypeVar("T")


@dataclass(slots=True)
class AppsState:
    decisions: DecisionLog
    attempts: Attempts = field(default_factory=Attempts)
    extra: dict[str, Any] = field(default_factory=dict)  # an app's own server-side state
    _building: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def service(self, name: str, kind: type[T], build: Callable[[], T]) -> T:
        """The app's own state ``extra[name]``, built by ``build`` on first use (once, even
        when two requests ask at the same moment)."""
        found = self.extra.get(name)
        if isinstance(found, kind):
            return found
        with self._building:
            found = self.extra.get(name)
            if not isinstance(found, kind):
                found = build()
                self.extra[name] = found
            return found

    def close(self) -> None:
        """Close every app's state that has a ``close`` (e.g. drain door webhooks)."""
        for value in self.extra.values():
            closer = getattr(value, "close", None)
            if callable(closer):
                closer()


def get_apps(request: Request) -> AppsState:
    state = getattr(request.app.state, "apps", None)
    if state is None:
        with _BUILD:
            state = getattr(request.app.state, "apps", None)
            if state is None:
                gallery = get_services(request).gallery
                state = AppsState(DecisionLog.of(gallery))
                request.app.state.apps = state
    return state


AppsDep = Annotated[AppsState, Depends(get_apps)]
