"""The door decision as a signed webhook to the site's door controller.

Each decision of a site with a webhook URL becomes one :class:`DoorEvent` POSTed by the video
package's :class:`~facegate.video.events.WebhookSink`: JSON body, header
``X-Facegate-Signature: t=<unix time>,v1=<HMAC-SHA256 hex of "<t>." + body>`` with the
site's secret, retries with exponential back-off on network errors and 5xx answers, and a
bounded queue (an event is dropped and counted rather than stalling the gate). The body::

    {"type": "door_decision", "site": "block-7", "seq": 12, "decision": "open",
     "reason": "allowed", "method": "face", "subject_id": "5f0c...", "alerts": [],
     "faces": 1, "operating_point": "fpir=0.01", "at": "2026-12-02T07:31:02+01:00"}

A receiver checks the signature with :func:`facegate.video.events.verify_signature` (or the
same HMAC in its own language) and opens the door only on ``"decision": "open"``. Events carry
ids, never images, embeddings or names.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from facegate.apps.access import AccessDecision
from facegate.video.events import WebhookSink


@dataclass(frozen=True, slots=True)
class DoorEvent:
    """One door decision, as sent to the site's webhook."""

    seq: int
    site: str
    decision: AccessDecision

    @property
    def stream_id(self) -> str:
        return f"access:{self.site}"

    def to_dict(self) -> dict[str, Any]:
        body = self.decision.to_dict()
        body.pop("open", None)
        body.pop("similarity", None)  # the door needs the decision, not the score
        return {"type": "door_decision", "seq": self.seq, **body}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


SinkFactory = Callable[[str, bytes], WebhookSink]


class DoorWebhooks:
    """One webhook sender per site, made on first use; :meth:`close` drains them all."""

    def __init__(self, factory: SinkFactory | None = None) -> None:
        self._factory: SinkFactory = factory or (lambda url, secret: WebhookSink(url, secret))
        self._sinks: dict[str, tuple[str, bytes, WebhookSink]] = {}
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, url: str, secret: bytes, decision: AccessDecision) -> int:
        """Queue ``decision`` for the site's webhook at ``url``; returns the event's seq."""
        with self._lock:
            known = self._sinks.get(decision.site)
            if known is None or known[:2] != (url, secret):  # new site, URL or secret
                if known is not None:
                    known[2].close(timeout_s=5.0)
                known = (url, secret, self._factory(url, secret))
                self._sinks[decision.site] = known
            seq = next(self._seq)
        known[2].emit(DoorEvent(seq, decision.site, decision))
        return seq

    def sink(self, site: str) -> WebhookSink | None:
        found = self._sinks.get(site)
        return found[2] if found else None

    def close(self) -> None:
        with self._lock:
            sinks = [sink for _, _, sink in self._sinks.values()]
            self._sinks.clear()
        for sink in sinks:
            sink.close(timeout_s=10.0)
