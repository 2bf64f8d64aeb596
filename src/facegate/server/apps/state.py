"""What the application routers share while the server runs: attempts and the decision log.

Built on first use and kept on ``app.state.apps``; ``AppsDep`` gives it to a route.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from facegate.apps.attempts import Attempts
from facegate.apps.decisions import DecisionLog
from facegate.server.deps import get_services

_BUILD = threading.Lock()


@dataclass(slots=True)
class AppsState:
    decisions: DecisionLog
    attempts: Attempts = field(default_factory=Attempts)
    extra: dict[str, Any] = field(default_factory=dict)  # an app's own server-side state

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
