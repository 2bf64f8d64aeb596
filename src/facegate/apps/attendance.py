"""Attendance and exam check-in: check-in windows, the present/late/absent report, refusals.

A class has a roster and a purpose (``attendance:<class>`` by default); each lesson or exam
sitting is a session with a check-in window::

    opens_at <= t < late_after     present
    late_after <= t < closes_at    late
    otherwise                      refused: the window is not open

A class check-in identifies the face among the class's consented subjects and counts it only
for someone on the roster. An exam check-in is 1:1 against the registered photo of the
candidate who says who they are, with a passed liveness session; a face that does not match is
not refused outright: it opens a review case, and a person (the invigilator) decides.

**What facegate refuses to do.** It tells who is present, never how they feel or behave:
emotion recognition, attention or engagement scoring, gaze or drowsiness tracking and any other
inference about behaviour are refused in code (:func:`refuse_monitoring` raises
:class:`~facegate.errors.ProhibitedPracticeError`, HTTP 403) and not offered anywhere. The EU
AI Act prohibits systems that infer emotions of natural persons in education institutions
and workplaces (art. 5(1)(f)).

**Minors.** A person under :data:`GUARDIAN_AGE` joins a roster only with a guardian's consent,
recorded with the guardian's name, relation and contact (China's 2025 face recognition
measures require it under 14).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from facegate.errors import InvalidRequestError, ProhibitedPracticeError

GUARDIAN_AGE = 14
STATUSES = ("present", "late", "absent", "review")
CHECKIN_METHODS = ("face", "staff", "card", "review")

PROHIBITED_ANALYSES = frozenset(
    {
        "emotion",
        "emotions",
        "affect",
        "mood",
        "sentiment",
        "attention",
        "engagement",
        "concentration",
        "behaviour",
        "behavior",
        "gaze",
        "drowsiness",
        "cheating-behaviour",
        "cheating-behavior",
    }
)
"""Analyses of people that facegate refuses (EU AI Act art. 5(1)(f))."""

REFUSAL = (
    "facegate does not infer emotions, attention or behaviour of people: emotion recognition "
    "in education and workplaces is prohibited (EU AI Act, art. 5(1)(f)); attendance records "
    "only who checked in, when and how"
)


def refuse_monitoring(analyses: Iterable[str]) -> None:
    """Raise :class:`ProhibitedPracticeError` if any requested analysis is one facegate
    refuses; :class:`InvalidRequestError` for any other (attendance offers none)."""
    asked = [a.strip().lower() for a in analyses if a.strip()]
    refused = sorted(a for a in asked if a in PROHIBITED_ANALYSES)
    if refused:
        raise ProhibitedPracticeError(f"{', '.join(refused)} refused: {REFUSAL}")
    if asked:
        raise InvalidRequestError(f"unknown analysis {asked[0]!r}: attendance offers none")


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def parse_birth_date(text: str) -> date:
    try:
        born = date.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(f"bad birth date {text!r}: use YYYY-MM-DD") from None
    return born


def needs_guardian(birth: date | None, day: date) -> bool:
    """Whether a person born on ``birth`` needs a guardian's consent on ``day``."""
    return birth is not None and age_on(birth, day) < GUARDIAN_AGE


@dataclass(frozen=True, slots=True)
class Window:
    """A session's check-in window (aware datetimes)."""

    opens_at: datetime
    starts_at: datetime
    late_after: datetime
    closes_at: datetime

    def check(self) -> Window:
        if not self.opens_at <= self.starts_at <= self.late_after < self.closes_at:
            raise InvalidRequestError(
                "a check-in window needs opens_at <= starts_at <= late_after < closes_at"
            )
        return self

    def status_at(self, at: datetime) -> str | None:
        """``present``, ``late``, or ``None`` outside the window."""
        if self.opens_at <= at < self.late_after:
            return "present"
        if self.late_after <= at < self.closes_at:
            return "late"
        return None


@dataclass(frozen=True, slots=True)
class ReportRow:
    subject_id: str
    display_name: str
    status: str
    at: datetime | None
    method: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "display_name": self.display_name,
            "status": self.status,
            "at": self.at.isoformat() if self.at else None,
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class Report:
    session_id: str
    class_name: str
    title: str
    kind: str
    window: Window
    rows: tuple[ReportRow, ...]

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.rows) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "class": self.class_name,
            "title": self.title,
            "kind": self.kind,
            "opens_at": self.window.opens_at.isoformat(),
            "late_after": self.window.late_after.isoformat(),
            "closes_at": self.window.closes_at.isoformat(),
            "counts": self.counts(),
            "rows": [r.to_dict() for r in self.rows],
        }


def build_report(
    session: tuple[str, str, str, str, Window],
    roster: Sequence[tuple[str, str]],
    checkins: dict[str, tuple[datetime, str, str]],
) -> Report:
    """Every roster member (id, name) with their check-in (at, method, status) or absent."""
    sid, class_name, title, kind, window = session
    rows = []
    for subject_id, name in sorted(roster, key=lambda r: (r[1].lower(), r[0])):
        found = checkins.get(subject_id)
        if found is None:
            rows.append(ReportRow(subject_id, name, "absent", None, None))
        else:
            at, method, status = found
            rows.append(ReportRow(subject_id, name, status, at, method))
    return Report(sid, class_name, title, kind, window, tuple(rows))


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subject_id", "display_name", "status", "checked_in_at", "method"])
    for r in report.rows:
        name = r.display_name
        if name[:1] in ("=", "+", "-", "@", "\t", "\r"):  # no formula injection in spreadsheets
            name = "'" + name
        writer.writerow(
            [r.subject_id, name, r.status, r.at.isoformat() if r.at else "", r.method or ""]
        )
    return out.getvalue()


def report_html(report: Report) -> str:
    esc = html.escape
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items())
    body = "".join(
        f'<tr class="{esc(r.status)}"><td>{esc(r.display_name)}</td><td>{esc(r.status)}</td>'
        f"<td>{esc(r.at.isoformat()) if r.at else ''}</td><td>{esc(r.method or '')}</td></tr>"
        for r in report.rows
    )
    title = esc(report.title or report.session_id)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Attendance: {title}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}"
        ".absent{color:#a00}.late{color:#a60}.review{color:#06a}</style></head><body>"
        f"<h1>Attendance: {title}</h1>"
        f"<p>Class {esc(report.class_name)} ({esc(report.kind)}); check-in from "
        f"{esc(report.window.opens_at.isoformat())}, late from "
        f"{esc(report.window.late_after.isoformat())}, closed at "
        f"{esc(report.window.closes_at.isoformat())}. {esc(counts)}.</p>"
        "<table><thead><tr><th>Name</th><th>Status</th><th>Checked in</th><th>How</th></tr>"
        f"</thead><tbody>{body}</tbody></table>"
        "<p>Only presence is recorded: no emotion, attention or behaviour analysis.</p>"
        "</body></html>"
    )
