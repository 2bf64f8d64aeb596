"""Liveness sessions held by the server: created, fed frames, read, and spent as evidence.

Sessions live in memory (they last seconds); each belongs to the API key that created it. A
passed session can be spent once, within ``evidence_s`` of passing, as the liveness evidence
of one verify, identify or enrol call. The server's clock (monotonic) decides deadlines.

Settings (:class:`~facegate.config.LivenessConfig`) choose the challenges (drawn at random, or
a fixed script), the timing, and an optional passive PAD: each frame's largest face is scored,
and a session that passes its challenges fails when the median score of its frames is under
the PAD threshold; the decision (method, score, threshold) joins the evidence's audit text.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facegate.config import LivenessConfig
from facegate.errors import ConfigError, LivenessRequiredError, LivenessSessionNotFoundError
from facegate.liveness.challenges import PROMPTS, Challenge, draw_challenges
from facegate.liveness.evidence import METHOD, LivenessEvidence
from facegate.liveness.observe import Observation
from facegate.liveness.pad import (
    PadDecision,
    PresentationAttackDetector,
    landmark_box,
    session_decision,
)
from facegate.liveness.session import LivenessSession, SessionPolicy, Status, Verdict
from facegate.models.base import Landmarker
from facegate.types import ImageArray

Clock = Callable[[], float]
Draw = Callable[[], tuple[tuple[Challenge, ...], tuple[float, ...] | None]]


def _random_draw() -> tuple[tuple[Challenge, ...], tuple[float, ...] | None]:
    return draw_challenges(), None


def config_draw(cfg: LivenessConfig) -> Draw:
    """Challenges as the settings say: 2-3 drawn from ``cfg.challenges``, or all of them in
    their order (``shuffle`` off); hold times are drawn by the session from its policy."""
    pool = tuple(Challenge(c) for c in cfg.challenges)
    if not cfg.shuffle:
        return lambda: (pool, None)
    return lambda: (draw_challenges(pool=pool), None)


def config_policy(cfg: LivenessConfig) -> SessionPolicy:
    return SessionPolicy(
        ttl_s=cfg.ttl_s,
        hold_min_s=cfg.hold_min_s,
        hold_max_s=cfg.hold_max_s,
        response_s=cfg.response_s,
    )


def config_pad(cfg: LivenessConfig, home: Path, pack: str) -> PresentationAttackDetector | None:
    """The passive PAD the settings name: the texture baseline's file or the pack's model."""
    if cfg.pad == "off":
        return None
    if cfg.pad == "texture":
        from facegate.liveness.texture import TextureModel, TexturePad

        path = cfg.pad_model or home / "pad" / "texture.npz"
        if not path.is_file():
            raise ConfigError(f"liveness.pad is 'texture' but there is no model at {path}")
        return TexturePad(TextureModel.load(path), cfg.pad_threshold)
    from facegate.liveness.pad import OnnxPad
    from facegate.models.registry import PackRegistry

    registry = PackRegistry(home)
    chosen = registry.get(pack)
    if not chosen.roles.pad:
        raise ConfigError(f"liveness.pad is 'pack' but pack {pack!r} has no PAD model")
    spec = chosen.roles.pad[0]
    threshold = cfg.pad_threshold if cfg.pad_threshold is not None else 0.5
    return OnnxPad(spec, registry.path(chosen, spec.file), threshold=threshold, name=pack)


@dataclass(slots=True)
class Entry:
    session: LivenessSession
    key_id: str
    created: float
    passed_at: float | None = None
    spent: bool = False
    pad_scores: list[float] = field(default_factory=list)
    pad: PadDecision | None = None
    audited: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class LivenessSessions:
    """The server's liveness sessions (thread-safe)."""

    def __init__(
        self,
        policy: SessionPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        evidence_s: float = 120.0,
        max_sessions: int = 10_000,
        draw: Draw | None = None,
        pad: PresentationAttackDetector | None = None,
    ) -> None:
        self.policy = policy or SessionPolicy()
        self.clock = clock
        self.evidence_s = evidence_s
        self.max_sessions = max_sessions
        self.draw: Draw = draw or _random_draw
        self.pad = pad
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._landmarker: Landmarker | None = None

    @classmethod
    def from_config(cls, cfg: LivenessConfig, home: Path, pack: str) -> LivenessSessions:
        return cls(config_policy(cfg), draw=config_draw(cfg), pad=config_pad(cfg, home, pack))

    def pad_score(self, pixels: ImageArray, faces: Sequence[Observation]) -> float | None:
        """The PAD score of the largest face in a frame (``None`` without PAD or face)."""
        if self.pad is None or not faces:
            return None
        face = max(faces, key=lambda f: f.size)
        return float(self.pad.score(pixels, landmark_box(face.points)))

    def landmarker68(self) -> Landmarker:
        """dlib's 68-point predictor (built on first use) for engines that give 5 points."""
        with self._lock:
            if self._landmarker is None:
                from facegate.models.dlib_runtime import DlibShapePredictor

                self._landmarker = DlibShapePredictor(68)
            return self._landmarker

    def _purge(self, now: float) -> None:
        keep = 1.0 * self.policy.ttl_s + self.evidence_s
        for sid in [s for s, e in self._entries.items() if now - e.created > keep]:
            del self._entries[sid]

    def create(self, key_id: str) -> tuple[str, Entry]:
        challenges, holds = self.draw()
        session = LivenessSession(challenges, policy=self.policy, holds_s=holds)
        now = self.clock()
        with self._lock:
            self._purge(now)
            if len(self._entries) >= self.max_sessions:
                oldest = min(self._entries, key=lambda s: self._entries[s].created)
                del self._entries[oldest]
            sid = "lv_" + secrets.token_urlsafe(12)
            entry = Entry(session, key_id, now)
            self._entries[sid] = entry
        return sid, entry

    def get(self, sid: str, key_id: str) -> Entry:
        """The session ``sid`` of ``key_id`` (another key's session reads as unknown)."""
        with self._lock:
            entry = self._entries.get(sid)
        if entry is None or entry.key_id != key_id:
            raise LivenessSessionNotFoundError(f"no liveness session {sid!r}")
        return entry

    def elapsed_ms(self, entry: Entry) -> float:
        return 1000.0 * (self.clock() - entry.created)

    def submit(
        self,
        sid: str,
        key_id: str,
        nonce: str,
        timestamp_ms: float,
        faces: Sequence[Observation],
        pad_score: float | None = None,
    ) -> Verdict:
        entry = self.get(sid, key_id)
        with entry.lock:
            verdict = entry.session.submit(nonce, timestamp_ms, faces, self.elapsed_ms(entry))
            if pad_score is not None:
                entry.pad_scores.append(pad_score)
            if verdict.status is Status.PASSED and entry.passed_at is None:
                verdict = self._passive_check(entry)
            if verdict.status is Status.PASSED and entry.passed_at is None:
                entry.passed_at = self.clock()
        return verdict

    def _passive_check(self, entry: Entry) -> Verdict:
        """The PAD decision over the session's frames; an attack fails the session."""
        session = entry.session
        if self.pad is None:
            return session.verdict()
        entry.pad = session_decision(self.pad, entry.pad_scores)
        if entry.pad is None:
            return session.reject("passive PAD: no face was scored")
        if not entry.pad.live:
            return session.reject(f"passive PAD: attack ({entry.pad.describe()})")
        return session.verdict()

    def audit_text(self, sid: str, entry: Entry) -> str | None:
        """Once a session is decided, the decision of its audit record (operation
        ``liveness``); ``None`` while it runs and after the first call."""
        with entry.lock:
            session = entry.session
            if session.status is Status.ACTIVE or entry.audited:
                return None
            entry.audited = True
            parts = [f"{session.status.value} {sid}"]
            if entry.pad is not None:
                parts.append(entry.pad.brief())
            if session.reason and not session.reason.startswith("passive PAD"):
                parts.append(session.reason)
            parts.append(",".join(c.value for c in session.challenges))
            if session.residual is not None:
                parts.append(f"planar {session.residual:.3f}")
            return "; ".join(parts)

    def verdict(self, sid: str, key_id: str) -> Verdict:
        entry = self.get(sid, key_id)
        with entry.lock:
            return entry.session.expire(self.elapsed_ms(entry))

    def spend(self, sid: str, key_id: str) -> LivenessEvidence:
        """The evidence of a passed session, once; 409 if it did not pass, was spent or is
        too old."""
        try:
            entry = self.get(sid, key_id)
        except LivenessSessionNotFoundError as exc:
            raise LivenessRequiredError(str(exc)) from exc
        with entry.lock:
            session = entry.session
            if session.status is not Status.PASSED or entry.passed_at is None:
                raise LivenessRequiredError(
                    f"liveness session {sid} has not passed ({session.status.value})"
                )
            if entry.spent:
                raise LivenessRequiredError(f"liveness session {sid} was already used")
            if self.clock() - entry.passed_at > self.evidence_s:
                raise LivenessRequiredError(f"liveness session {sid} passed too long ago")
            entry.spent = True
            detail = (
                f"challenges {','.join(c.value for c in session.challenges)}; "
                f"planar residual {session.residual or 0.0:.3f}"
            )
            point = f"planar>={session.policy.planar_min:g}"
            return LivenessEvidence(
                sid, True, METHOD, point, detail, session.face_embedding,
                session.policy.continuity, entry.pad,
            )  # fmt: skip


def session_json(sid: str, entry: Entry, verdict: Verdict, elapsed_ms: float) -> dict[str, Any]:
    """The JSON of a session: what to show now, and the verdict once there is one."""
    session = entry.session
    current = verdict.challenge
    return {
        "id": sid,
        "status": verdict.status.value,
        "challenges": [c.value for c in session.challenges],
        "done": [c.value for c in verdict.done],
        "challenge": current.value if current is not None else None,
        "prompt": PROMPTS[current] if current is not None else _idle_prompt(verdict),
        "reason": verdict.reason,
        "planar_residual": verdict.planar_residual,
        "elapsed_ms": round(elapsed_ms, 1),
        "deadline_ms": 1000.0 * session.policy.ttl_s,
        "response_ms": 1000.0 * session.policy.response_s,
        "pad": _pad_json(entry.pad),
    }


def _pad_json(decision: PadDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "method": decision.method,
        "score": round(decision.score, 4),
        "threshold": round(decision.threshold, 4),
        "live": decision.live,
    }


def _idle_prompt(verdict: Verdict) -> str:
    if verdict.status is Status.PASSED:
        return "Done"
    if verdict.status is Status.FAILED:
        return "Liveness check failed"
    return "Look at the camera and hold still"
