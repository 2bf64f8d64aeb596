"""Access control (gate, door, housing block): the door decision as a pure policy.

A site (:class:`Site`) has its own purpose (``access:<site>`` by default), so only people who
consented for that site can be recognised there. A decision (:class:`AccessDecision`) comes
from what the camera saw (:class:`SeenFace`, one per face found) or from a card or PIN, the
alternative path every site offers; the same schedule applies to both, and choosing the card
is recorded like any other passage, without penalty.

The rules, in order (:func:`decide_face`):

1. no face: the door stays closed (``no-face``);
2. more than one face *in the passage* (a face whose box area is at least
   ``passage_area_ratio`` of the largest face's; faces far behind do not count): the door stays
   closed and ``tailgating`` is flagged: one person at a time;
3. an unknown face (no subject at the operating point): closed, ``stranger`` alert;
4. a known face outside every schedule window that applies to the subject: closed,
   ``outside-schedule``;
5. otherwise the door opens (``allowed``).

Schedules (:class:`Window`): ``"mon-fri 07:00-19:00"``, ``"sat,sun 10:00-14:00"``,
``"daily 22:00-06:00"`` (a window whose end is not after its start runs past midnight). A
window belongs to one subject or to everyone at the site; a site with no window at all is open
at any hour to whoever may pass. Times are the site's local time (its IANA time zone).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from facegate.errors import InvalidRequestError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES = {"daily": "mon-sun", "weekdays": "mon-fri", "weekends": "sat,sun"}
_WINDOW = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
SITE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,47}$")
PASSAGE_AREA_RATIO = 0.25
"""A face counts as in the passage when its box is at least this share of the largest's."""

REASONS = ("allowed", "no-face", "tailgating", "stranger", "outside-schedule", "unknown-credential")
METHODS = ("face", "card", "pin")


def check_site_name(name: str) -> str:
    if not SITE_NAME.match(name):
        raise InvalidRequestError(
            f"bad site name {name!r}: use 1-48 lower-case letters, digits, '_', '.', '-'"
        )
    return name


def site_purpose(name: str) -> str:
    """The default purpose of site ``name``: ``access:<name>``."""
    return f"access:{check_site_name(name)}"


def _days(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in _ALIASES.get(text, text).split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidRequestError(f"bad weekday {part!r}: use mon..sun, daily or weekdays")
        a, b = DAYS.index(first), DAYS.index(last or first)
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Window:
    """Weekdays (0 = Monday) and minutes of the day [start, end); end <= start: past midnight."""

    weekdays: frozenset[int]
    start_minute: int
    end_minute: int
    subject_id: str | None = None

    @classmethod
    def parse(cls, spec: str, subject_id: str | None = None) -> Window:
        found = _WINDOW.match(spec.lower())
        if not found:
            raise InvalidRequestError(
                f"bad schedule {spec!r}: write e.g. 'mon-fri 07:00-19:00' or 'daily 22:00-06:00'"
            )
        days, h1, m1, h2, m2 = found.groups()
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if not (0 <= start < 1440 and 0 <= end <= 1440) or int(m1) > 59 or int(m2) > 59:
            raise InvalidRequestError(f"bad time in schedule {spec!r}")
        return cls(_days(days), start, end, subject_id)

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start_minute < self.end_minute:
            return day in self.weekdays and self.start_minute <= minute < self.end_minute
        # past midnight: the evening part on a listed day, the morning part on the day after
        return (day in self.weekdays and minute >= self.start_minute) or (
            (day - 1) % 7 in self.weekdays and minute < self.end_minute
        )

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.weekdays))
        s, e = self.start_minute, self.end_minute
        return f"{days} {s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"


def allowed_at(windows: Sequence[Window], subject_id: str, local: datetime) -> bool:
    """Whether ``subject_id`` may pass at ``local`` under the site's ``windows``."""
    if not windows:
        return True
    mine = [w for w in windows if w.subject_id in (None, subject_id)]
    return any(w.contains(local) for w in mine)


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    purpose: str
    description: str = ""
    timezone: str = "UTC"
    webhook_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "purpose": self.purpose,
            "description": self.description,
            "timezone": self.timezone,
            "webhook_url": self.webhook_url,
        }


@dataclass(frozen=True, slots=True)
class SeenFace:
    """One face the camera saw: its box area, and who it is at the operating point."""

    area: float
    subject_id: str | None
    similarity: float | None


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """Open or not, why, by which method, for whom, with the alerts raised."""

    site: str
    open: bool
    reason: str
    method: str
    subject_id: str | None = None
    alerts: tuple[str, ...] = ()
    faces: int = 0
    similarity: float | None = None
    operating_point: str | None = None
    at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The audit decision text (ids and reasons only)."""
        text = f"{'open' if self.open else 'closed'}: {self.reason} ({self.method}"
        text += f", {self.faces} faces" if self.method == "face" else ""
        text += f", {self.operating_point})" if self.operating_point else ")"
        return text + (f"; alerts: {', '.join(self.alerts)}" if self.alerts else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "open": self.open,
            "decision": "open" if self.open else "closed",
            "reason": self.reason,
            "method": self.method,
            "subject_id": self.subject_id,
            "alerts": list(self.alerts),
            "faces": self.faces,
            "similarity": None if self.similarity is None else round(self.similarity, 6),
            "operating_point": self.operating_point,
            "at": self.at.isoformat() if self.at else None,
            **self.extra,
        }


def in_passage(faces: Sequence[SeenFace], ratio: float = PASSAGE_AREA_RATIO) -> list[SeenFace]:
    """The faces near enough to the camera to be in the passage (see the module docstring)."""
    if not faces:
        return []
    largest = max(f.area for f in faces)
    return [f for f in faces if f.area >= ratio * largest]


def decide_face(
    site: str,
    faces: Sequence[SeenFace],
    windows: Sequence[Window],
    local: datetime,
    operating_point: str | None = None,
    ratio: float = PASSAGE_AREA_RATIO,
) -> AccessDecision:
    """The door decision for what the camera saw (the rules in the module docstring)."""
    near = in_passage(faces, ratio)
    alerts: tuple[str, ...] = ()
    subject_id: str | None = None
    similarity = max((f.similarity for f in near if f.similarity is not None), default=None)
    if not near:
        reason = "no-face"
    elif len(near) > 1:
        reason = "tailgating"
        alerts = (
            ("tailgating", "stranger")
            if any(f.subject_id is None for f in near)
            else ("tailgating",)
        )
    elif near[0].subject_id is None:
        reason, alerts = "stranger", ("stranger",)
    else:
        subject_id = near[0].subject_id
        reason = "allowed" if allowed_at(windows, subject_id, local) else "outside-schedule"
    return AccessDecision(
        site,
        reason == "allowed",
        reason,
        "face",
        subject_id,
        alerts,
        len(near),
        similarity,
        operating_point,
        local,
    )


def decide_credential(
    site: str, method: str, subject_id: str | None, windows: Sequence[Window], local: datetime
) -> AccessDecision:
    """The door decision for a card or PIN: the same schedule as for a face."""
    if subject_id is None:
        return AccessDecision(site, False, "unknown-credential", method, at=local)
    ok = allowed_at(windows, subject_id, local)
    reason = "allowed" if ok else "outside-schedule"
    return AccessDecision(site, ok, reason, method, subject_id, at=local)
