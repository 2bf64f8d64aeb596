"""The active check measured: bona fide sessions fitted to real clips, and simulated attacks.

- :func:`record_clip` turns frames of a real video into a recording (observations per frame).
- :func:`fitted_sessions` finds what a clip shows (head turns and blinks, from its landmarks)
  and builds sessions whose challenges and prompt times fit it: a person answering prompts.
- :class:`PhotoBank` renders a real photo as a print held at many tilts (the real detector,
  68 landmarks and embedder run on every render); in-plane motion (shift, roll, moving closer)
  is then applied to the landmarks exactly, which is how a print moved in its own plane looks.
- :func:`print_attack` plays an attacker who sees the prompts and moves the print to answer
  them (tilting it for a turn, bringing it closer, flipping to an eyes-shut copy for a blink).
- :func:`replay_attack` submits a recorded real session to a new session (another nonce).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facegate.eval.pad_sim import PlanePose, present
from facegate.liveness.challenges import TURNS, Challenge, draw_challenges
from facegate.liveness.observe import FrameAnalyzer, Observation, observation_from_points
from facegate.liveness.session import (
    LivenessSession,
    Recording,
    SessionPolicy,
    Status,
    Verdict,
    feed,
)
from facegate.types import FloatArray, ImageArray

FRAME_SIZE = (640, 480)
TILTS = tuple(range(-40, 41, 10))
PITCHES = (-10, 0, 10)
MIN_HOLD_S = 0.2
STILL_DEG = 15.0  # a swing this large before the first prompt is a turn, not holding still
TAIL_S = 0.2  # frames a clip must still have after the settle time of the last event


@dataclass(frozen=True, slots=True)
class Clip:
    """A recording of one real clip: ``frames`` are ``(ms, faces)``."""

    name: str
    frames: Recording


def record_clip(
    analyzer: FrameAnalyzer, name: str, images: Sequence[tuple[float, ImageArray]]
) -> Clip:
    """Observations of every frame ``(ms, RGB image)`` of a clip."""
    from facegate.liveness.observe import observe_frame

    return Clip(name, [(t, observe_frame(analyzer, img)) for t, img in images])


# ------------------------------------------------------------------ bona fide sessions


def segments(clip: Clip, gap_ms: float = 1000.0, same: float = 0.8) -> list[Clip]:
    """The clip cut where its largest face disappears for ``gap_ms`` or changes person
    (cosine to the previous one below ``same``): one person's continuous track each."""
    out: list[Recording] = []
    current: list[tuple[float, Sequence[Observation]]] = []
    last: tuple[float, Observation] | None = None
    for t, faces in clip.frames:
        face = max(faces, key=lambda f: f.size) if faces else None
        if face is None:
            if last is not None and t - last[0] <= gap_ms:
                current.append((t, faces))
            continue
        changed = last is None or t - last[0] > gap_ms
        previous = last[1].embedding if last is not None else None
        if not changed and face.embedding is not None and previous is not None:
            changed = float(np.dot(face.embedding, previous)) < same
        if changed and current:
            out.append(current)
            current = []
        current.append((t, [face]))
        last = (t, face)
    if current:
        out.append(current)
    return [Clip(f"{clip.name}#{i + 1}", frames) for i, frames in enumerate(out)]


@dataclass(frozen=True, slots=True)
class Event:
    """Something a clip shows: a challenge and the times (ms) it starts and ends."""

    challenge: Challenge
    start_ms: float
    end_ms: float


def _track(clip: Clip) -> list[tuple[float, Observation]]:
    """The largest face of each frame that has one."""
    return [(t, max(faces, key=lambda f: f.size)) for t, faces in clip.frames if faces]


def clip_events(clip: Clip, turn_deg: float = 20.0) -> list[Event]:
    """Head turns (yaw swings of at least ``turn_deg`` between turning points of the
    smoothed yaw) and blinks (eye aspect ratio under 70% of the clip's median, and back)."""
    track = _track(clip)
    if len(track) < 5:
        return []
    times = np.array([t for t, _ in track])
    yaw = np.convolve(np.array([f.yaw for _, f in track]), np.ones(3) / 3, mode="same")
    events: list[Event] = []
    anchor = 0
    for i in range(1, len(track) - 1):
        turning = (yaw[i] - yaw[i - 1]) * (yaw[i + 1] - yaw[i]) < 0
        if (turning or i == len(track) - 2) and abs(yaw[i] - yaw[anchor]) >= turn_deg:
            kind = Challenge.TURN_LEFT if yaw[i] > yaw[anchor] else Challenge.TURN_RIGHT
            events.append(Event(kind, float(times[anchor]), float(times[i])))
            anchor = i
        elif turning:
            anchor = i if abs(yaw[i] - yaw[anchor]) < turn_deg / 4 else anchor
    ear = np.array([f.ear for _, f in track])
    median = float(np.median(ear))
    closed = ear < 0.7 * median
    i = 1
    while i < len(track):
        if closed[i] and not closed[i - 1]:
            back = next((j for j in range(i, len(track)) if ear[j] >= 0.9 * median), None)
            if back is None:
                break
            if times[back] - times[i] < 500:
                events.append(Event(Challenge.BLINK, float(times[i - 1]), float(times[back])))
            i = back
        i += 1
    return sorted(events, key=lambda e: e.start_ms)


@dataclass(frozen=True, slots=True)
class FittedSession:
    """A bona fide session: the clip's frames from ``start_ms``, its challenges and holds."""

    clip: str
    challenges: tuple[Challenge, ...]
    holds_s: tuple[float, ...]
    frames: Recording
    verdict: Verdict
    events: tuple[Event, ...] = ()  # the movements of the clip it was fitted to
    hold_yaw_spread: float = 0.0  # degrees the head swung in the 0.5 s before the first prompt

    def held_still(self, degrees: float = STILL_DEG) -> bool:
        """Did the person hold still before the first prompt, as the page asks (no swing as
        large as a turn the check would count)?"""
        return self.hold_yaw_spread < degrees


def _done_times(session: LivenessSession, frames: Recording) -> list[float]:
    """Session time (ms) at which each challenge was done."""
    out: list[float] = []
    start = frames[0][0]
    for t, faces in frames:
        if session.status is not Status.ACTIVE:
            break
        before = len(session.verdict().done)
        verdict = session.submit(session.nonce, t - start, faces, t - start)
        if len(verdict.done) > before:
            out.append(t - start)
    return out


def fit_session(
    clip: Clip, events: Sequence[Event], reaction_s: float, lead_s: float = 0.8
) -> FittedSession | None:
    """The session that prompts each event ``reaction_s`` before it starts, beginning
    ``lead_s`` before the first prompt (less, down to 0.3 s, where the clip starts later);
    ``None`` when the clip leaves no room for a prompt before an event (a hold under 0.2 s).
    If an earlier challenge is not recognised, the session is kept: it fails, as it would."""
    clip_start = clip.frames[0][0]
    first_prompt = max(events[0].start_ms - 1000.0 * reaction_s, clip_start + 300.0)
    start = max(first_prompt - 1000.0 * lead_s, clip_start)
    frames = [(t, f) for t, f in clip.frames if start <= t <= start + 30_000.0]
    if not frames or first_prompt >= events[0].end_ms:
        return None
    t0 = frames[0][0]
    holds = [(first_prompt - t0) / 1000.0]
    challenges = tuple(e.challenge for e in events)
    for k in range(1, len(events)):
        probe = LivenessSession(challenges[:k], holds_s=holds)
        done = _done_times(probe, frames)
        if len(done) < k:
            break
        hold = (events[k].start_ms - t0 - 1000.0 * reaction_s - done[k - 1]) / 1000.0
        if hold < MIN_HOLD_S:
            return None  # the clip shows the next event too soon after the last was done
        holds.append(hold)
    holds += [MIN_HOLD_S] * (len(events) - len(holds))
    session = LivenessSession(challenges, holds_s=holds)
    verdict = feed(session, frames)
    # the recording of this session: the frames it took, up to its verdict
    used = frames[: session.frames_seen]
    prompt = t0 + 1000.0 * holds[0]
    yaws = [
        max(f, key=lambda o: o.size).yaw for t, f in frames if f and prompt - 500 <= t <= prompt
    ]
    spread = max(yaws) - min(yaws) if yaws else 0.0
    return FittedSession(clip.name, challenges, tuple(holds), used, verdict, tuple(events), spread)


def _fits(chosen: Sequence[Event], events: Sequence[Event]) -> bool:
    """Different challenges, at least one turn, one after the other, and no other head turn
    from 0.7 s before the first (the baseline before its prompt) to the end of the last: a
    person answering these prompts would not make it. A turn that ends where a first turn
    starts (the head reversing) is allowed."""
    kinds = [e.challenge for e in chosen]
    if len(set(kinds)) < len(kinds) or not any(k in TURNS for k in kinds):
        return False
    if any(b.start_ms < a.end_ms for a, b in zip(chosen, chosen[1:], strict=False)):
        return False
    first = chosen[0]
    lo, hi = first.start_ms - 700.0, chosen[-1].end_ms

    def reversal(e: Event) -> bool:
        return first.challenge in TURNS and e.end_ms == first.start_ms

    return not any(
        e.challenge in TURNS
        and e not in chosen
        and e.start_ms < hi
        and e.end_ms > lo
        and not reversal(e)
        for e in events
    )


def fitted_sessions(
    clip: Clip, reactions_s: Sequence[float] = (0.2, 0.3, 0.4, 0.5)
) -> list[FittedSession]:
    """Bona fide sessions of 2-3 events of one person's track, in order, that fit
    (:func:`_fits`: blinks between them may be skipped, head turns not), for each track of
    the clip; only where the clip goes on long enough after the last event for the verdict
    (a person at a camera does not vanish the moment they finish)."""
    return [s for part in segments(clip) for s in _fitted(part, reactions_s)]


def _fitted(clip: Clip, reactions_s: Sequence[float]) -> list[FittedSession]:
    events = clip_events(clip)
    clip_end = clip.frames[-1][0] if clip.frames else 0.0
    settle_ms = 1000.0 * (SessionPolicy().settle_s + TAIL_S)
    out = []
    for length in (2, 3):
        for chosen in itertools.combinations(events, length):
            if not _fits(chosen, events) or chosen[-1].end_ms + settle_ms > clip_end:
                continue
            for reaction in reactions_s:
                fitted = fit_session(clip, chosen, reaction)
                if fitted is not None:
                    out.append(fitted)
    return out


# ------------------------------------------------------------------ print attacks


class PhotoBank:
    """Renders of one photo as a print at every tilt in :data:`TILTS` x :data:`PITCHES`
    (and an eyes-shut copy at pitch 0), each analysed by the real pipeline."""

    def __init__(
        self, analyzer: FrameAnalyzer, photo: ImageArray, closed: ImageArray | None = None
    ) -> None:
        background = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 96, np.uint8)
        self.renders: dict[tuple[int, int, bool], tuple[FloatArray, FloatArray]] = {}
        variants: list[tuple[ImageArray, bool, tuple[int, ...]]] = [(photo, False, PITCHES)]
        if closed is not None:
            variants.append((closed, True, (0,)))
        for image, shut, pitches in variants:
            for pitch in pitches:
                for tilt in TILTS:
                    pose = PlanePose(yaw=tilt, pitch=pitch)
                    found = analyzer.analyze(present(image, pose, FRAME_SIZE, background))
                    faces = [f for f in found.faces if f.landmarks68 is not None]
                    if faces and faces[0].embedding is not None and faces[0].landmarks68:
                        face = max(faces, key=lambda f: f.box.area)
                        if face.landmarks68 is not None and face.embedding is not None:
                            pts = face.landmarks68.points
                            self.renders[(tilt, pitch, shut)] = (pts, face.embedding.vector)

    def frame(self, pose: PlanePose, shut: bool, rng: random.Random) -> list[Observation]:
        """The faces seen with the print at ``pose`` (nearest render, then in-plane motion)."""
        tilt = int(10 * round(pose.yaw / 10))
        pitch = 0 if shut else int(10 * round(pose.pitch / 10))
        key = (max(min(tilt, 40), -40), max(min(pitch, 10), -10), shut)
        if key not in self.renders:
            return []
        points, embedding = self.renders[key]
        centre = points.mean(axis=0)
        angle = math.radians(pose.roll)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        moved = (points - centre) @ rot.T * pose.scale + centre + np.array([pose.dx, pose.dy])
        return [observation_from_points(moved, embedding, FRAME_SIZE)]


@dataclass(slots=True)
class _Attacker:
    rng: random.Random
    blink: bool
    direction: float = 1.0
    tilt: float = 0.0
    scale: float = 1.0
    prompt_ms: float | None = None
    prompt: Challenge | None = None

    def pose(self, asked: Challenge | None, now: float) -> tuple[PlanePose, bool]:
        if asked is not self.prompt:
            self.prompt, self.prompt_ms = asked, now
            self.direction = self.rng.choice((-1.0, 1.0))
        since = now - (self.prompt_ms or now) - 1000.0 * self.rng.uniform(0.25, 0.5)
        tilt_to, scale_to, shut = 0.0, 1.0, False
        if asked in (Challenge.TURN_LEFT, Challenge.TURN_RIGHT) and since > 0:
            flips = int(since // 1500)
            tilt_to = 35.0 * self.direction * (-1.0) ** flips
        elif asked is Challenge.MOVE_CLOSER and since > 0:
            scale_to = 1.4
        elif asked is Challenge.BLINK and self.blink and since > 0:
            shut = 0 < since % 1000 < 180
        self.tilt += 0.35 * (tilt_to - self.tilt)
        self.scale += 0.35 * (scale_to - self.scale)
        r = self.rng
        shake = PlanePose(
            yaw=self.tilt + r.gauss(0, 1.0),
            pitch=r.gauss(0, 3.0),
            roll=r.gauss(0, 1.5),
            scale=self.scale * (1 + r.gauss(0, 0.01)),
            dx=r.gauss(0, 3.0),
            dy=r.gauss(0, 3.0),
        )
        return shake, shut


def print_attack(
    bank: PhotoBank, rng: random.Random, *, blink: bool, fps: float = 15.0
) -> tuple[LivenessSession, Verdict]:
    """One session against a print that an attacker moves to answer the prompts."""
    session = LivenessSession(draw_challenges())
    attacker = _Attacker(rng, blink)
    now = 0.0
    verdict = session.verdict(now)
    while verdict.status is Status.ACTIVE and now <= 1000.0 * session.policy.ttl_s:
        pose, shut = attacker.pose(verdict.challenge, now)
        verdict = session.submit(session.nonce, now, bank.frame(pose, shut, rng), now)
        now += 1000.0 / fps
    return session, session.expire(now) if verdict.status is Status.ACTIVE else verdict


def replay_attack(recorded: FittedSession, *, same_nonce: bool) -> Verdict:
    """A recorded real session sent again: with its old nonce, or re-labelled with the new
    session's nonce (the new session draws its own challenges and holds)."""
    session = LivenessSession(draw_challenges())
    nonce = "recorded-" + recorded.clip if same_nonce else None
    return feed(session, recorded.frames, nonce=nonce)
