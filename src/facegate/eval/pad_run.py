"""``facegate eval pad``: the data it reads and the report of the active check.

Bona fide: sessions fitted to the Hamilton clip and the YouTube Faces clips. Attacks: prints
of LFW photos moved by an attacker who answers the prompts, the same with a synthetic blink,
and replays of the recorded bona fide sessions with their old nonce and with a new one.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.errors import ConfigError
from facegate.eval.pad import error_rates
from facegate.eval.pad_active import (
    STILL_DEG,
    Clip,
    FittedSession,
    PhotoBank,
    fitted_sessions,
    print_attack,
    record_clip,
    replay_attack,
)
from facegate.eval.pad_sim import blink_photo
from facegate.eval.report import Report
from facegate.liveness.observe import observe_frame
from facegate.liveness.session import Status, Verdict
from facegate.pipeline.engine import FaceEngine
from facegate.types import ImageArray

ProgressFn = Callable[[str, int, int], None]
YTF_FPS = 30.0


def video_frames(path: Path) -> Iterator[tuple[float, ImageArray]]:
    """``(ms, RGB frame)`` of a video file, timed by its frame rate."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ConfigError(f"cannot read video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    index = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        yield 1000.0 * index / fps, np.ascontiguousarray(bgr[:, :, ::-1])
        index += 1
    cap.release()


def ytf_clips(root: Path) -> dict[str, list[tuple[float, Path]]]:
    """Frames of each YouTube Faces clip in ``root/boxes.csv``, timed by frame number."""
    out: dict[str, list[tuple[float, Path]]] = {}
    with (root / "boxes.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            number = int(row["frame"].rsplit(".", 2)[-2])
            out.setdefault(row["clip"], []).append((1000.0 * number / YTF_FPS, root / row["frame"]))
    return {k: sorted(v) for k, v in out.items()}


def _rgb(path: Path) -> ImageArray:
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise ConfigError(f"cannot read image {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def load_clips(
    engine: FaceEngine, video: Path | None, ytf: Path | None, *, mirror: bool = False
) -> list[Clip]:
    """Recordings of the clips; with ``mirror``, also of each clip flipped left to right (the
    same real movements seen in a mirror: a turn to the left becomes one to the right; the
    detector, landmarks and embedder run again on the flipped frames)."""
    sources: list[tuple[str, list[tuple[float, ImageArray]]]] = []
    if video is not None:
        sources.append((video.stem, list(video_frames(video))))
    if ytf is not None:
        for name, paths in ytf_clips(ytf).items():
            sources.append((name, [(t, _rgb(p)) for t, p in paths]))
    clips = [record_clip(engine, name, images) for name, images in sources]
    if mirror:
        for name, images in sources:
            flipped = [(t, np.ascontiguousarray(img[:, ::-1])) for t, img in images]
            clips.append(record_clip(engine, f"{name}~mirrored", flipped))
    return clips


def attack_photos(
    engine: FaceEngine, lfw: Path, count: int
) -> tuple[list[ImageArray], list[ImageArray]]:
    """``count`` LFW photos of different people with open eyes, and each with its eyes
    replaced by those of the LFW photo with the most closed eyes among up to 150 people."""
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    opened: list[tuple[ImageArray, np.ndarray]] = []
    donor: tuple[float, ImageArray, np.ndarray] | None = None
    for person in people[:: max(1, len(people) // 150)][:150]:
        image = _rgb(sorted(person.glob("*.jpg"))[0])
        faces = observe_frame(engine, image)
        if len(faces) != 1:
            continue
        if donor is None or faces[0].ear < donor[0]:
            donor = (faces[0].ear, image, faces[0].points)
        if faces[0].ear >= 0.22 and len(opened) < count:
            opened.append((image, faces[0].points))
    if not opened or donor is None:
        raise ConfigError(f"no usable photos in {lfw}")
    shut = [blink_photo(img, pts, donor[1], donor[2]) for img, pts in opened]
    return [img for img, _ in opened], shut


def _outcomes(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return dict(Counter((v.reason or "passed") for v in verdicts).most_common())


def photo_banks(
    engine: FaceEngine,
    photos: Sequence[ImageArray],
    shut: Sequence[ImageArray],
    progress: ProgressFn | None = None,
) -> list[PhotoBank]:
    """The renders of each photo as a print (and its eyes-shut copy)."""
    banks = []
    for i, (photo, closed) in enumerate(zip(photos, shut, strict=True)):
        banks.append(PhotoBank(engine, photo, closed))
        if progress is not None:
            progress("print renders", i + 1, len(photos))
    return banks


def evaluate_active(
    clips: Sequence[Clip], banks: Sequence[PhotoBank], attacks: int, seed: int = 13
) -> Report:
    """Bona fide sessions fitted to ``clips``; ``attacks`` attack sessions split between
    print, print with synthetic blink and replays (old nonce and new nonce)."""
    rng = random.Random(seed)
    bona = [s for clip in clips for s in fitted_sessions(clip)]
    share = {"print": 0.35, "print+synthetic blink": 0.35, "replay (new nonce)": 0.2}
    counts = {k: int(attacks * v) for k, v in share.items()}
    counts["replay (old nonce)"] = attacks - sum(counts.values())
    results: dict[str, list[Verdict]] = {k: [] for k in counts}
    for kind, n in counts.items():
        for _ in range(n):
            if kind.startswith("print"):
                bank = rng.choice(banks)
                results[kind].append(print_attack(bank, rng, blink="blink" in kind)[1])
            elif bona:
                results[kind].append(replay_attack(rng.choice(bona), same_nonce="old" in kind))
    return _active_report(bona, results, len(clips))


def _bona_counts(sessions: Sequence[FittedSession]) -> dict[str, Any]:
    """Sessions and movement sequences (one clip's events, whatever the prompt times), and
    how many of each were rejected."""
    rejected = [s for s in sessions if s.verdict.status is not Status.PASSED]
    return {
        "sessions": len(sessions),
        "rejected": len(rejected),
        "bpcer": len(rejected) / len(sessions) if sessions else None,
        "movement_sequences": len({(s.clip, s.events) for s in sessions}),
        "movement_sequences_rejected": len({(s.clip, s.events) for s in rejected}),
        "per_clip": dict(Counter(s.clip.split("#")[0] for s in sessions)),
    }


def _active_report(
    fitted: Sequence[FittedSession], attacks: dict[str, list[Verdict]], n_clips: int
) -> Report:
    def passed(v: Verdict) -> float:
        return 1.0 if v.status is Status.PASSED else 0.0

    bona = [s for s in fitted if s.held_still()]
    rates = error_rates(
        [passed(s.verdict) for s in bona],
        {k: [passed(v) for v in vs] for k, vs in attacks.items()},
        threshold=1.0,
    )
    summary: dict[str, Any] = {
        **rates.to_dict(),
        "bona_fide": _bona_counts(bona),
        "bona_fide_not_mirrored": _bona_counts([s for s in bona if "~mirrored" not in s.clip]),
        "bona_fide_all_fitted": _bona_counts(fitted),
        "still_before_first_prompt_deg": STILL_DEG,
        "attacks_accepted": {k: sum(int(passed(v)) for v in vs) for k, vs in attacks.items()},
        "clips": n_clips,
    }
    summary.pop("threshold")
    report = Report("pad-active", "Active liveness: challenge-response sessions", summary)
    report.tables.append(
        (
            "Bona fide sessions fitted to real clips",
            [
                "clip",
                "challenges",
                "holds (s)",
                "swing before (deg)",
                "verdict",
                "reason",
                "planar residual",
            ],
            [
                [
                    s.clip,
                    " ".join(c.value for c in s.challenges),
                    " ".join(f"{h:.2f}" for h in s.holds_s),
                    round(s.hold_yaw_spread, 1),
                    s.verdict.status.value,
                    s.verdict.reason or "",
                    s.verdict.planar_residual,
                ]
                for s in fitted
            ],
        )
    )
    for kind, verdicts in attacks.items():
        rows = [[reason, n] for reason, n in _outcomes(verdicts).items()]
        report.tables.append((f"Attack outcomes: {kind}", ["outcome", "sessions"], rows))
    report.details["bona_fide_outcomes"] = _outcomes([s.verdict for s in bona])
    report.details["all_fitted_outcomes"] = _outcomes([s.verdict for s in fitted])
    report.details["attack_outcomes"] = {k: _outcomes(v) for k, v in attacks.items()}
    report.notes.append(
        "Decision: a session passes or fails (no score), so APCER and BPCER are the shares of "
        "attack and bona fide sessions that passed and failed. Bona fide sessions take the "
        "challenges and prompt times that fit what each clip shows (head turns and blinks "
        "found in its landmarks); attacks draw random challenges and holds like the server. "
        "Several bona fide sessions share one movement sequence of a clip (prompted at "
        "different reaction times): they are not independent; the movement sequences are "
        "counted apart. A clip's '~mirrored' copy is the same movements seen in a mirror. "
        f"BPCER counts the sessions whose head swung less than {STILL_DEG:g} degrees in the "
        "half second before the first prompt (the page asks to hold still; a larger swing is "
        "a turn the check itself would count); all fitted sessions are reported too."
    )
    return report
