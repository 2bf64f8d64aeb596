"""Per-track numbers and decisions for bench/video_identity.py, from its cached measurements.

Each decision rule is replayed through :class:`facegate.video.identity.TrackIdentities` itself
(the shots in the order the track saw them, their cached quality and embeddings), against the
two enrolled templates, at ``fpir=1e-2`` for two subjects: the searcher returns what a gallery
search returns (the best subject, when it reaches the threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facegate.types import BBox, Embedding, Face, OperatingPoint
from facegate.video.identity import IdentityPolicy, Match, SearchResult, TrackIdentities

Who = Callable[[int, Sequence[float]], str | None]
PROBES = {
    "dlib": "dlib",
    "mfn-68": "mobilefacenet",
    "mfn-mtcnn": "mobilefacenet",
    "mfn-lfd5": "mobilefacenet",
}
RULES: dict[str, IdentityPolicy] = {"shipped": IdentityPolicy()}
TOP_K = 3


class MemorySearcher:
    """A two-subject gallery in memory, answering as :class:`GallerySearcher` does."""

    def __init__(self, templates: dict[str, np.ndarray], threshold: float, below: bool) -> None:
        self.templates = templates
        self.point = OperatingPoint("fpir=0.01", threshold)
        self.below = below  # also candidates under the threshold (an admin's search)

    def search(self, faces: Sequence[Face]) -> list[SearchResult]:
        out = []
        for face in faces:
            assert face.embedding is not None
            sims = sorted(
                ((float(face.embedding.vector @ v), s) for s, v in self.templates.items()),
                reverse=True,
            )
            kept = sims if self.below else [x for x in sims[:1] if x[0] >= self.point.threshold]
            out.append(SearchResult([Match(s, sim) for sim, s in kept], self.point))
        return out


class CachedEmbedder:
    """Gives each shot the embedding measured for it."""

    def __init__(self, vectors: dict[int, np.ndarray | None], pack: str) -> None:
        self.vectors = vectors
        self.pack = pack

    def embed_faces(self, pixels: Any, faces: Sequence[Face]) -> list[Face]:
        out = []
        for face in faces:
            vec = self.vectors.get(id(face))
            emb = None if vec is None else Embedding(vec.astype(np.float32), self.pack)
            out.append(
                Face(face.box, face.score, landmarks=face.landmarks, embedding=emb,
                     quality=face.quality)
            )  # fmt: skip
        return out


def replay(
    shots: list[dict[str, Any]], probe: str, templates: dict[str, np.ndarray], threshold: float,
    policy: IdentityPolicy,
) -> dict[str, Any]:  # fmt: skip
    """One track through TrackIdentities: its final decision."""
    vectors: dict[int, np.ndarray | None] = {}
    faces = []
    for shot in shots:
        face = Face(BBox(*shot["box"]), shot["score"], quality=shot["quality"])
        vec = shot.get(probe)
        vectors[id(face)] = None if vec is None else np.asarray(vec, np.float32)
        faces.append(face)
    searcher = MemorySearcher(templates, threshold, below=False)
    identities = TrackIdentities(CachedEmbedder(vectors, probe), searcher, policy)
    pixels = np.zeros((1, 1, 3), np.uint8)
    for face in faces:
        identities.observe(1, pixels, face)
    decision = identities.decision(1)
    if decision is None:
        return {"subject": None, "score": None, "searches": 0}
    score = None if decision.score is None else round(decision.score, 4)
    return {"subject": decision.subject_id, "score": score, "searches": identities.searches}


def weighted_template(vecs: np.ndarray, weights: Sequence[float], unit: bool) -> np.ndarray:
    """The quality-weighted mean of ``vecs``: as a unit vector, or as it is (its inner product
    with a template is then the weighted mean of the shots' similarities)."""
    w = np.asarray([max(q, 1e-3) for q in weights], np.float64)
    template = w @ vecs.astype(np.float64) / w.sum()
    return template / (float(np.linalg.norm(template)) or 1.0) if unit else template


def probes_of(shots: list[dict[str, Any]], probe: str) -> dict[str, np.ndarray] | None:
    """The best-quality shot, the template of the top-3 shots and that of all shots."""
    usable = [s for s in shots if s.get(probe) is not None]
    if not usable:
        return None
    vecs = np.asarray([s[probe] for s in usable], np.float32)
    quality = [s["quality"] for s in usable]
    top = sorted(range(len(usable)), key=lambda i: -quality[i])[:TOP_K]
    return {
        "best_quality_shot": vecs[top[0]],
        "template": weighted_template(vecs[top], [quality[i] for i in top], True),
        "mean_of_top3": weighted_template(vecs[top], [quality[i] for i in top], False),
        "template_all": weighted_template(vecs, quality, True),
        "_shots": vecs,
    }


def similarities(
    shots: list[dict[str, Any]], probe: str, templates: dict[str, np.ndarray]
) -> dict[str, dict[str, float | None]]:
    """Per person: best and mean similarity over the shots, that of the best-quality shot, of
    the track template (quality-weighted mean of the top-3 shots' embeddings, as a unit
    vector), the quality-weighted mean of those three shots' similarities, and the template of
    all shots."""
    found = probes_of(shots, probe)
    if found is None:
        return {p: {"best": None, "mean": None} for p in templates}
    out: dict[str, dict[str, float | None]] = {}
    for person, ref in templates.items():
        sims = found["_shots"] @ ref
        out[person] = {"best": round(float(sims.max()), 4), "mean": round(float(sims.mean()), 4)}
        for name in ("best_quality_shot", "template", "mean_of_top3", "template_all"):
            out[person][name] = round(float(found[name] @ ref), 4)
    return out


def impostor_check(
    clips: Sequence[Clip],
    enrolled: dict[str, dict[str, dict[str, list[float]]]],
    fmr: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """Scores of every track against the enrolled LFW strangers (nobody in the clips): the
    best-quality shot alone, the track template (unit vector) and the weighted mean of the top-3
    shots' similarities, with the share of pairs at or above the pack's ``fmr`` thresholds."""
    out: dict[str, Any] = {}
    for probe, pack in PROBES.items():
        for detector, people in enrolled.get(pack, {}).items():
            refs = np.asarray([v for p, v in people.items() if p.startswith("lfw:")], np.float32)
            scores: dict[str, list[float]] = {
                "best_quality_shot": [],
                "template": [],
                "mean_of_top3": [],
            }
            for clip in clips:
                for track in clip.shots.values():
                    found = probes_of(track, probe)
                    for name in scores if found is not None else ():
                        scores[name].extend((refs @ found[name]).tolist())
            out[f"{probe}/enrol-{detector}"] = {
                name: score_summary(np.asarray(v), fmr[pack]) for name, v in scores.items()
            }
    return out


def score_summary(scores: np.ndarray, fmr: dict[str, float]) -> dict[str, float]:
    out = {
        "pairs": int(scores.size),
        "mean": round(float(scores.mean()), 4),
        "p99": round(float(np.quantile(scores, 0.99)), 4),
        "max": round(float(scores.max()), 4),
    }
    for name, limit in fmr.items():
        out[f"share_at_{name}"] = round(float((scores >= limit).mean()), 5)
    return out


def track_row(track_id: str, shots: list[dict[str, Any]], who: Who) -> dict[str, Any]:
    yaws = [s["yaw"] for s in shots if s["yaw"] is not None]
    quality = [s["quality"] for s in shots]
    first = shots[0]
    return {
        "track": int(track_id),
        "who": who(first["frame"], first["box"]),
        "frames": [first["frame"], shots[-1]["frame"]],
        "detections": len(shots),
        "height_px": round(float(np.median([s["box"][3] - s["box"][1] for s in shots])), 1),
        "yaw": {"min": min(yaws), "median": float(np.median(yaws)), "max": max(yaws)}
        if yaws else None,
        "quality": {"max": max(quality), "mean": round(float(np.mean(quality)), 2)},
        "mtcnn_points": sum(1 for s in shots if s["mtcnn_points"]),
        "lfd_points": sum(1 for s in shots if s.get("lfd_points")),
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Clip:
    """One clip's measured tracks, who each is, and the people of its own gallery."""

    name: str
    shots: dict[str, list[dict[str, Any]]]
    who: Who
    people: tuple[str, ...]


def clip_rows(
    clip: Clip,
    enrolled: dict[str, dict[str, dict[str, list[float]]]],
    thresholds: dict[str, dict[int, float]],
) -> list[dict[str, Any]]:
    rows = []
    for track_id, track in clip.shots.items():
        row = track_row(track_id, track, clip.who)
        row["clip"], row["similarity"], row["decision"] = clip.name, {}, {}
        for probe, pack in PROBES.items():
            for detector, people in enrolled.get(pack, {}).items():
                everyone = {p: np.asarray(v, np.float32) for p, v in people.items()}
                own = {p: everyone[p] for p in clip.people if p in everyone}
                key = f"{probe}/enrol-{detector}"
                sims = similarities(track, probe, everyone)
                row["similarity"][key] = {p: sims[p] for p in own}
                others = [v for p, v in sims.items() if p.startswith("lfw:")]
                row["similarity"][key]["best_stranger"] = max(
                    (v["best"] for v in others if v["best"] is not None), default=None
                )
                for gallery, templates in (("own", own), ("all", everyone)):
                    limit = thresholds[pack][len(templates)]
                    row["decision"][f"{gallery}/{key}"] = {
                        name: replay(track, probe, templates, limit, policy)
                        for name, policy in RULES.items()
                    }
        rows.append(row)
    return rows


def report(
    clips: Sequence[Clip],
    enrolled: dict[str, dict[str, dict[str, list[float]]]],
    thresholds: dict[str, dict[int, float]],
    fmr: dict[str, dict[str, float]],
) -> dict[str, Any]:
    rows = [row for clip in clips for row in clip_rows(clip, enrolled, thresholds)]
    return {
        "thresholds_fpir_1e-2": thresholds,
        "thresholds_fmr": fmr,
        "summary": summarise(rows),
        "impostors": impostor_check(clips, enrolled, fmr),
        "tracks": rows,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (gallery, probe, enrolment, rule): tracks named right, named wrongly, and tracks of an
    enrolled person left unknown, as ``clip:track``."""
    out: dict[str, Any] = {}
    for row in rows:
        truth = row["who"]
        person = truth.split(" (")[0] if truth else None
        label = f"{row['clip']}:{row['track']}"
        for key, rules in row["decision"].items():
            for rule, decision in rules.items():
                cell = out.setdefault(f"{key}/{rule}", {"right": [], "wrong": [], "missed": []})
                named = decision["subject"]
                if named is not None and named != person:
                    cell["wrong"].append(label)
                elif named is not None:
                    cell["right"].append(label)
                elif person is not None:
                    cell["missed"].append(label)
    return out
