"""A gate fed from a video stream: one door decision per track, from the stream's events.

:class:`StreamGate` is an event sink for :class:`facegate.video.stream.StreamAnalyzer`. The
analyzer tracks faces and decides once per track who it is (from the track's best shot, at the
gallery's operating point, within the site's purpose); the gate turns each such decision into
a door decision with the same rules as a single image
(:func:`facegate.apps.access.decide_face`): the faces in the passage are the tracks present at
that moment (started and not yet left), a stranger is flagged, and two tracks in the passage at
once are tailgating. A track whose identity changes (a better shot) is decided again; each
decision is recorded and sent to the site's webhook like any other.

>>> gate = StreamGate(control, "block-7")
>>> analyzer = StreamAnalyzer(find, identities=..., sink=FanOut([gate, ...]))
>>> analyzer.run(open_source("rtsp://door-cam/stream"))
>>> gate.decisions      # what the door was told, in order
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facegate.apps.access import AccessDecision, SeenFace, Window, decide_face
from facegate.apps.access_service import AccessControl
from facegate.apps.notices import require_notice
from facegate.privacy.audit import Actor
from facegate.video.events import Event


@dataclass(slots=True)
class _Track:
    area: float = 0.0
    subject_id: str | None = None
    score: float | None = None
    decided: bool = False


@dataclass(slots=True)
class StreamGate:
    """Door decisions from a stream's track events (see the module docstring)."""

    control: AccessControl
    site: str
    actor: Actor | None = None
    decisions: list[AccessDecision] = field(default_factory=list)
    _tracks: dict[int, _Track] = field(default_factory=dict)

    def __post_init__(self) -> None:
        found = self.control.store.get_site(self.site)  # an unknown site fails before the stream
        require_notice(self.control.gallery, found.purpose)

    def emit(self, event: Event) -> None:
        if event.type == "track_left":
            self._tracks.pop(event.track_id, None)
            return
        track = self._tracks.setdefault(event.track_id, _Track())
        if event.box is not None:
            x1, y1, x2, y2 = event.box
            track.area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        if event.type not in ("identified", "unknown"):
            return
        track.subject_id, track.score, track.decided = event.subject_id, event.score, True
        self._decide(event)

    def _decide(self, event: Event) -> None:
        site = self.control.store.get_site(self.site)
        present = [t for t in self._tracks.values() if t.area > 0]
        seen = [SeenFace(t.area, t.subject_id, t.score) for t in present]
        local = self.control.local_now(site)
        decision = decide_face(self.site, seen, self.windows(), local, event.operating_point)
        if decision.faces == 1 and decision.subject_id != event.subject_id:
            return  # the passage's one face is another, earlier track: already decided
        self.decisions.append(self.control.conclude(site, decision, self.actor, None))

    def windows(self) -> list[Window]:
        return [w for _, w in self.control.store.windows(self.site)]

    def close(self) -> None:
        return None
