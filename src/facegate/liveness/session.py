"""The active liveness session: a state machine over frames, from prompt to verdict.

A session holds a random sequence of 2-3 challenges (:func:`draw_challenges`), a nonce and a
deadline. The client sends frames, each with the nonce and its capture time in milliseconds
since the session started (a monotonic clock); the server turns each frame's faces into
:class:`~facegate.liveness.observe.Observation` values and calls :meth:`LivenessSession.submit`.

Timeline: every challenge is preceded by a "hold still" phase of a random length drawn for the
session (its frames give the challenge's baseline), then prompted; it must be done within
``response_s`` of its prompt, and a head turn that was not asked for (away from the pose the
session started in) before it is done fails the session, so a recording of another session's
challenges, in another order or at other times, does not pass. Only head turns count as wrong
movements: people blink, talk and lean on their own.

Checks on every frame: the nonce, strictly increasing timestamps not ahead of the server's
clock, the deadline, and one face track (the face closest to the session's first embedding;
if no face matches it for ``lost_s`` the session fails, so a second person cannot take over).
Half a second after the last challenge, the planarity check: the rigid landmarks of the frames
where the head was turned must not be explained by one homography of the baseline frame (a
flat photo tilted to fake a turn is; a real head, with its parallax, is not).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from facegate.errors import LivenessSessionClosedError
from facegate.liveness.challenges import (
    TURNS,
    Baseline,
    Challenge,
    Thresholds,
    done_at,
    draw_challenges,
    shown,
)
from facegate.liveness.observe import Observation
from facegate.liveness.signals import planar_residual


class Status(StrEnum):
    ACTIVE = "active"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Timing and anti-spoofing limits of a session (defaults measured on real video)."""

    ttl_s: float = 30.0  # deadline after creation
    hold_min_s: float = 0.5  # "hold still" before each prompt: random in [min, max], so a
    hold_max_s: float = 3.0  # replayed recording's movements miss the new prompts' windows
    response_s: float = 3.0  # a challenge must be done this long after its prompt
    baseline_s: float = 0.5  # the hold frames within this of the prompt form the baseline
    lost_s: float = 1.5  # the tracked face may be missing this long
    clock_skew_s: float = 1.0  # frame timestamps may run this far ahead of the server
    continuity: float = 0.9  # cosine similarity to the session's first face (dlib: FMR ~1e-2)
    planar_min: float = 0.06  # median planar residual of turned frames needed for "3-D"
    settle_s: float = 0.5  # frames kept after the last challenge before the verdict
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Where a session stands: ``status``, the current prompt, and why it failed."""

    status: Status
    challenge: Challenge | None  # the challenge to show now (None while holding or when over)
    done: tuple[Challenge, ...]
    reason: str | None
    planar_residual: float | None


@dataclass(slots=True)
class _Track:
    reference: np.ndarray | None = None
    last: np.ndarray | None = None
    last_seen_ms: float | None = None


class LivenessSession:
    """One challenge-response run. Time is the client's frame time in ms since the start."""

    def __init__(
        self,
        challenges: Sequence[Challenge] | None = None,
        *,
        policy: SessionPolicy | None = None,
        nonce: str | None = None,
        holds_s: Sequence[float] | None = None,
    ) -> None:
        self.policy = policy or SessionPolicy()
        self.challenges = tuple(challenges) if challenges is not None else draw_challenges()
        self.nonce = nonce or secrets.token_urlsafe(16)
        rng = secrets.SystemRandom()
        p = self.policy
        self.holds_s = tuple(
            holds_s
            if holds_s is not None
            else [rng.uniform(p.hold_min_s, p.hold_max_s) for _ in self.challenges]
        )
        if len(self.holds_s) != len(self.challenges):
            raise ValueError("one hold time per challenge")
        self.status = Status.ACTIVE
        self.reason: str | None = None
        self.residual: float | None = None
        self._index = 0
        self._phase_start_ms: float | None = None  # start of the current hold
        self._frames: list[tuple[float, Observation]] = []
        # per done challenge: its baseline, the first frame of its window, the frame it was done
        self._baselines: list[tuple[Baseline, int, int]] = []
        self._track = _Track()
        self._last_ms: float | None = None
        self.frames_seen = 0  # frames submitted, including the one that decided

    # -- public

    @property
    def face_embedding(self) -> np.ndarray | None:
        """The embedding of the session's face (its first tracked frame)."""
        return self._track.reference

    @property
    def prompt_at_ms(self) -> float | None:
        """When the current challenge is (or will be) prompted, in session time."""
        if self.status is not Status.ACTIVE or self._phase_start_ms is None:
            return None
        if self._index >= len(self.challenges):
            return None
        return self._phase_start_ms + 1000.0 * self.holds_s[self._index]

    def verdict(self, now_ms: float | None = None) -> Verdict:
        """The current state; ``challenge`` is set once the current prompt is due."""
        current = None
        if self.status is Status.ACTIVE:
            due = self.prompt_at_ms
            t = now_ms if now_ms is not None else self._last_ms
            if due is not None and t is not None and t >= due:
                current = self.challenges[self._index]
        done = self.challenges[: self._index]
        return Verdict(self.status, current, done, self.reason, self.residual)

    def submit(
        self, nonce: str, timestamp_ms: float, faces: Sequence[Observation], server_ms: float
    ) -> Verdict:
        """Take one frame: its nonce, capture time, the faces found in it, and the server's
        time since the session was created (both in ms)."""
        if self.status is not Status.ACTIVE:
            raise LivenessSessionClosedError(f"the session is already {self.status.value}")
        self.frames_seen += 1
        failure = self._frame_failure(nonce, timestamp_ms, server_ms)
        if failure is None:
            failure = self._track_face(timestamp_ms, faces)
        if failure is None:
            failure = self._advance()
        if failure is not None:
            self._fail(failure)
        return self.verdict(timestamp_ms)

    def reject(self, reason: str) -> Verdict:
        """Fail the session on another check's word (the passive PAD, after the challenges)."""
        self._fail(reason)
        return self.verdict()

    def expire(self, server_ms: float) -> Verdict:
        """Fail the session if its deadline has passed (a client that stopped sending)."""
        if self.status is Status.ACTIVE and server_ms > 1000.0 * self.policy.ttl_s:
            self._fail("deadline passed")
        return self.verdict()

    # -- checks

    def _fail(self, reason: str) -> None:
        self.status = Status.FAILED
        self.reason = reason

    def _frame_failure(self, nonce: str, ts: float, server_ms: float) -> str | None:
        if not secrets.compare_digest(nonce.encode(), self.nonce.encode()):
            return "nonce does not match the session"
        if server_ms > 1000.0 * self.policy.ttl_s:
            return "deadline passed"
        if self._last_ms is not None and ts <= self._last_ms:
            return "frame timestamps are not increasing"
        if ts < 0 or ts > server_ms + 1000.0 * self.policy.clock_skew_s:
            return "frame timestamp is ahead of the session's clock"
        self._last_ms = ts
        if self._phase_start_ms is None:
            self._phase_start_ms = ts
        return None

    def _track_face(self, ts: float, faces: Sequence[Observation]) -> str | None:
        track = self._track
        chosen: Observation | None = None
        if track.reference is None:
            embedded = [f for f in faces if f.embedding is not None]
            if embedded:
                chosen = max(embedded, key=lambda f: f.size)
                track.reference = chosen.embedding
        else:
            chosen = self._match(faces)
        if chosen is not None:
            track.last = chosen.embedding
            track.last_seen_ms = ts
            self._frames.append((ts, chosen))
            return None
        since = track.last_seen_ms if track.last_seen_ms is not None else self._phase_start_ms
        if since is not None and ts - since > 1000.0 * self.policy.lost_s:
            return "the face was lost or changed"
        return None

    def _match(self, faces: Sequence[Observation]) -> Observation | None:
        """The face that continues the track: similar enough to the session's first face or
        to the last one tracked (a head turned far from the first pose drifts slowly; a
        different person is a sudden drop)."""
        best: tuple[float, Observation] | None = None
        for face in faces:
            if face.embedding is None:
                continue
            refs = [r for r in (self._track.reference, self._track.last) if r is not None]
            sim = max(float(np.dot(r, face.embedding)) for r in refs)
            if best is None or sim > best[0]:
                best = (sim, face)
        return best[1] if best is not None and best[0] >= self.policy.continuity else None

    def _advance(self) -> str | None:
        """Move through the challenges with the frames seen so far."""
        while self._index < len(self.challenges):
            prompt = self.prompt_at_ms
            if prompt is None or not self._frames or self._frames[-1][0] < prompt:
                return None
            outcome = self._judge(self.challenges[self._index], prompt)
            if isinstance(outcome, str) or outcome is None:
                return outcome
            self._index += 1
            self._phase_start_ms = self._frames[outcome][0]
        last_done = self._phase_start_ms or 0.0
        if self._frames and self._frames[-1][0] < last_done + 1000.0 * self.policy.settle_s:
            return None  # hold still a moment: the frames after the last turn count too
        return self._finish()

    def _judge(self, challenge: Challenge, prompt: float) -> int | str | None:
        """The frame index at which ``challenge`` was done, a failure reason, or ``None``
        while it may still be done."""
        window = 1000.0 * self.policy.baseline_s
        first = next(i for i, (t, _) in enumerate(self._frames) if t >= prompt - window)
        start = next(i for i, (t, _) in enumerate(self._frames) if t >= prompt)
        before = [f for _, f in self._frames[first:start]]
        base = Baseline.of(before or [self._frames[start][1]])
        after = [f for _, f in self._frames[start:]]
        hit = done_at(challenge, base, after, self.policy.thresholds, before)
        wrong = self._wrong_movement(challenge, base, after[: hit if hit is not None else None])
        if wrong is not None:
            return f"{wrong.value} was not asked for (expected {challenge.value})"
        if hit is None:
            if self._frames[-1][0] > prompt + 1000.0 * self.policy.response_s:
                return f"{challenge.value} not done in time"
            return None
        self._baselines.append((base, first, start + hit))
        return start + hit

    def _wrong_movement(
        self, asked: Challenge, base: Baseline, frames: Sequence[Observation]
    ) -> Challenge | None:
        """A head turn not asked for: away from the baseline *and* past the session's first
        (neutral) pose in that direction, so coming back to the centre is never one, nor is
        turning on further the way the previous challenge asked (overshooting)."""
        t = self.policy.thresholds
        neutral = self._baselines[0][0] if self._baselines else base
        previous = self.challenges[self._index - 1] if self._index > 0 else None
        for frame in frames:
            for other in TURNS:
                if other in (asked, previous) or not shown(other, base, frame, t):
                    continue
                if shown(other, neutral, frame, t):
                    return other
        return None

    def _finish(self) -> str | None:
        """Planarity: in each turn's frames (from its baseline to the next challenge's, or the
        end), those turned by ``turn_degrees`` or more from the opposite extreme, against
        that extreme frame."""
        residuals: list[float] = []
        turn_deg = self.policy.thresholds.turn_degrees
        starts = [first for _, first, _ in self._baselines] + [len(self._frames)]
        for k, challenge in enumerate(self.challenges):
            if challenge not in TURNS:
                continue
            end = max(starts[k + 1], self._baselines[k][2] + 1)
            window = [f for _, f in self._frames[starts[k] : end]]
            pick = min if challenge is Challenge.TURN_LEFT else max
            reference = pick(window, key=lambda f: f.yaw)
            residuals += [
                planar_residual(reference.points, f.points)
                for f in window
                if abs(f.yaw - reference.yaw) >= turn_deg
            ]
        self.residual = float(np.median(residuals)) if residuals else 0.0
        if self.residual < self.policy.planar_min:
            return "the face moved like a flat picture (no parallax when turning)"
        self.status = Status.PASSED
        return None


Recording = Sequence[tuple[float, Sequence[Observation]]]


def feed(session: LivenessSession, frames: Recording, nonce: str | None = None) -> Verdict:
    """Submit recorded frames ``(timestamp_ms, faces)`` in order, with ``nonce`` (the
    session's own by default) and the server clock running with the frame times, until the
    session has its verdict or the frames run out (then the deadline decides)."""
    key = session.nonce if nonce is None else nonce
    start = frames[0][0] if frames else 0.0
    verdict = session.verdict()
    for ts, faces in frames:
        verdict = session.submit(key, ts - start, faces, ts - start)
        if verdict.status is not Status.ACTIVE:
            return verdict
    return session.expire(1000.0 * session.policy.ttl_s + 1.0)
