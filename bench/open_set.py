"""Open-set identification on real photos: face_recognition's fixed tolerance against facegate.

From LFW (``../shared/data/lfw``, one folder per person) a fixed seed draws ``--enrolled``
people with at least ``--min-images`` photos and enrols the first photo of each; their other
photos (at most ``--max-probes`` each) are mated searches. One photo each of ``--strangers``
people who are not enrolled are non-mated searches: the right answer for them is "unknown".
People whose photos calibrated the dlib pack's thresholds (``bench/calibrate.py``: the first
photo of 3,000 of the 4,281 people) are left out, so the measured FPIR is not scored on the
impostor pairs that set the thresholds.

Every photo goes through facegate's default pipeline (``FaceEngine.analyze_many``: HOG detector,
5-point landmarks, dlib-exact alignment, ResNet embedding) and the face nearest the image centre
is kept. For face_recognition, the same photo goes through the dlib calls that
``face_recognition.face_encodings`` makes (:class:`FaceRecognitionVectors`), again keeping the
face nearest the centre: its raw, unnormalised vectors. Reported:

(a) face_recognition's rule: the nearest enrolled face by Euclidean distance of dlib's raw
    vectors, a match when that distance is at most ``--tolerance`` (0.6, its default);
(b) facegate at ``fpir=1e-1, 1e-2, 1e-3``, thresholds from the pack calibration for a gallery
    of ``--enrolled`` subjects;
(c) the rank-1 identification rate against FPIR over a threshold sweep, as a table and a PNG.

Embeddings are cached in ``bench/.cache/open_set_v2.npz`` (keyed by image path; the cache holds
embeddings of LFW photos, so it stays out of git). Run:

    .venv/bin/python bench/open_set.py
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.config import EngineConfig
from facegate.eval.metrics import fnir_at_threshold, mate_ranks
from facegate.pipeline.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]
FPIR_POINTS = ("fpir=1e-1", "fpir=1e-2", "fpir=1e-3")
CURVE_FPIRS = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True, slots=True)
class Split:
    enrolled: list[str]
    enrol_paths: list[Path]
    mated: list[tuple[int, Path]]  # (enrolled index, probe photo)
    strangers: list[Path]


def photos(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"))


def calibration_photos(lfw: Path, people: int) -> list[Path]:
    """The photos ``bench/calibrate.py --people N`` drew its impostor pairs from."""
    if people <= 0:
        return []
    sys.path.insert(0, str(Path(__file__).parent))
    from calibrate import first_images

    found: list[Path] = first_images(lfw, people)
    return found


def draw_split(lfw: Path, args: argparse.Namespace, has_face: dict[Path, bool]) -> Split:
    """Enrolled people, mated probes and strangers, drawn with ``args.seed``.

    A drawn person (enrolled or stranger) whose first photo has no face is replaced by the next
    draw; ``has_face`` says which photos have one (unknown photos count as having one).
    """
    rng = np.random.default_rng(args.seed)
    calibration = set(calibration_photos(lfw, args.calibration_people))
    folders = sorted(
        p for p in lfw.iterdir() if p.is_dir() and photos(p) and photos(p)[0] not in calibration
    )
    order = rng.permutation(len(folders))
    several = [folders[i] for i in order if len(photos(folders[i])) >= args.min_images]
    enrolled: list[Path] = []
    for folder in several:
        if len(enrolled) == args.enrolled:
            break
        if has_face.get(photos(folder)[0], True):
            enrolled.append(folder)
    chosen = set(enrolled)
    strangers: list[Path] = []
    for i in order[::-1]:  # from the other end of the draw
        if len(strangers) == args.strangers:
            break
        if folders[i] not in chosen and has_face.get(photos(folders[i])[0], True):
            strangers.append(photos(folders[i])[0])
    mated = [(i, p) for i, f in enumerate(enrolled) for p in photos(f)[1 : 1 + args.max_probes]]
    return Split([f.name for f in enrolled], [photos(f)[0] for f in enrolled], mated, strangers)


def off_centre(box: list[float], centre: tuple[float, float]) -> float:
    """Squared distance of a box's centre (x1, y1, x2, y2) from the image centre."""
    return ((box[0] + box[2]) / 2 - centre[0]) ** 2 + ((box[1] + box[3]) / 2 - centre[1]) ** 2


class FaceRecognitionVectors:
    """What ``face_recognition.face_encodings(image)`` computes, by dlib's own calls.

    face_recognition 1.3 runs dlib's HOG detector (upsample 1), the 5-point shape predictor on
    each detector box as it is (not clipped to the image), and dlib's ResNet on the image and
    those landmarks (``num_jitters=1``), and returns the raw, unnormalised 128-d vectors.
    Here, of the faces found, the one nearest the image centre.
    """

    def __init__(self) -> None:
        import dlib

        from facegate.models.dlib_runtime import EMBEDDER_FILE, SHAPE5_FILE
        from facegate.models.files import model_path

        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(model_path(SHAPE5_FILE)))
        self.model = dlib.face_recognition_model_v1(str(model_path(EMBEDDER_FILE)))

    def centre_face(self, pixels: np.ndarray) -> np.ndarray | None:
        rects = list(self.detector(pixels, 1))
        if not rects:
            return None
        centre = (pixels.shape[1] / 2, pixels.shape[0] / 2)
        rect = min(
            rects, key=lambda r: off_centre([r.left(), r.top(), r.right(), r.bottom()], centre)
        )
        shape = self.shapes(pixels, rect)
        return np.asarray(self.model.compute_face_descriptor(pixels, shape, 1), dtype=np.float32)


class Embeddings:
    """Unit (facegate) and raw (dlib) vectors per photo path, cached in an ``.npz`` file."""

    def __init__(self, cache: Path, config: EngineConfig | None = None, home: Path | None = None):
        self.cache = cache
        self.config = config
        self.home = home
        self.unit: dict[str, np.ndarray] = {}
        self.raw: dict[str, np.ndarray] = {}
        if cache.exists():
            data = np.load(cache)
            for key, u, r in zip(data["paths"].tolist(), data["unit"], data["raw"], strict=True):
                self.unit[key], self.raw[key] = u, r

    def ensure(self, paths: list[Path], batch: int = 48) -> None:
        todo = [p for p in dict.fromkeys(paths) if str(p) not in self.unit]
        if not todo:
            return
        engine = FaceEngine(self.config, home=self.home)
        peer = FaceRecognitionVectors()
        start = time.perf_counter()
        for offset in range(0, len(todo), batch):
            chunk = todo[offset : offset + batch]
            for path, result in zip(chunk, engine.analyze_many(chunk), strict=True):
                faces = [f for f in result.faces if f.embedding is not None]
                centre = (result.width / 2, result.height / 2)
                nearest = min(
                    faces, key=lambda f: off_centre(f.box.as_list(), centre), default=None
                )
                nan = np.full(128, np.nan, dtype=np.float32)
                self.unit[str(path)] = nan if nearest is None else nearest.embedding.vector  # type: ignore[union-attr]
                raw = peer.centre_face(engine.decode(path))
                self.raw[str(path)] = nan if raw is None else raw
            self.save()
            done = offset + len(chunk)
            speed = done / (time.perf_counter() - start)
            print(f"embedded {done}/{len(todo)} photos ({speed:.1f}/s)", flush=True)

    def save(self) -> None:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.unit)
        tmp = self.cache.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            paths=np.array(keys),
            unit=np.stack([self.unit[k] for k in keys]),
            raw=np.stack([self.raw[k] for k in keys]),
        )
        os.replace(tmp, self.cache)

    def has_face(self) -> dict[Path, bool]:
        """Photos where both facegate and face_recognition's calls found a face."""
        return {
            Path(k): bool(np.isfinite(v).all() and np.isfinite(self.raw[k]).all())
            for k, v in self.unit.items()
        }

    def matrix(self, paths: list[Path], raw: bool = False) -> np.ndarray:
        table = self.raw if raw else self.unit
        return np.stack([table[str(p)] for p in paths])


def rate(flags: np.ndarray) -> float:
    return round(float(np.mean(flags)), 4) if flags.size else float("nan")


def face_recognition_rule(
    gallery: np.ndarray, mated: np.ndarray, mates: np.ndarray, strangers: np.ndarray, tol: float
) -> dict[str, Any]:
    """face_recognition's decision: nearest enrolled face within ``tol`` (Euclidean, raw)."""

    def nearest(probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dist = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
        return dist.argmin(axis=1), dist.min(axis=1)

    who, dist = nearest(mated)
    s_who, s_dist = nearest(strangers)
    named = dist <= tol
    return {
        "tolerance": tol,
        "strangers_named": rate(s_dist <= tol),
        "strangers_named_count": int(np.sum(s_dist <= tol)),
        "rank1_identification_rate": rate(named & (who == mates)),
        "mated_named_wrongly": rate(named & (who != mates)),
        "mated_nearest_is_mate": rate(who == mates),
        "raw_vector_norm_mean": round(float(np.linalg.norm(gallery, axis=1).mean()), 4),
    }


def sweep(
    mate_scores: np.ndarray, ranks: np.ndarray, stranger_top: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(threshold, FPIR, rank-1 identification rate) at every distinct score, high to low."""
    thresholds = np.unique(np.concatenate([stranger_top, mate_scores]))[::-1]
    fpir = np.array([np.mean(stranger_top >= t) for t in thresholds])
    ir = np.array([np.mean((ranks == 1) & (mate_scores >= t)) for t in thresholds])
    return thresholds, fpir, ir


def curve_table(
    thresholds: np.ndarray, fpir: np.ndarray, ir: np.ndarray, higher_is_match: bool
) -> list[dict[str, float]]:
    """The best rank-1 rate with FPIR at most each of :data:`CURVE_FPIRS`."""
    rows = []
    for target in CURVE_FPIRS:
        ok = np.flatnonzero(fpir <= target + 1e-12)
        if ok.size == 0:
            continue
        best = int(ok[np.argmax(ir[ok])])
        t = float(thresholds[best])
        rows.append(
            {
                "fpir_at_most": target,
                "fpir": round(float(fpir[best]), 4),
                "rank1_identification_rate": round(float(ir[best]), 4),
                "threshold" if higher_is_match else "tolerance": round(
                    t if higher_is_match else -t, 4
                ),
            }
        )
    return rows


def plot(
    path: Path,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    points: dict[str, tuple[float, float]],
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for label, (fpir, ir) in curves.items():
        keep = fpir > 0
        ax.step(fpir[keep], ir[keep], where="post", label=label)
    for label, (x, y) in points.items():
        shown = label if x > 0 else f"{label} (no stranger named; drawn at 1e-3)"
        ax.plot([max(x, 1e-3)], [y], "o", label=shown)
    ax.set_xscale("log")
    ax.set(xlabel="FPIR (strangers given a name)", ylabel="rank-1 identification rate", title=title)
    ax.set_xlim(1e-3, 1.0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


@dataclass(frozen=True, slots=True)
class Searches:
    """Scores of the mated and non-mated searches against the enrolled gallery."""

    mate_scores: np.ndarray  # each mated search's score for its own mate
    ranks: np.ndarray  # the mate's 1-based rank
    mated_top: np.ndarray  # each mated search's best score (maybe someone else)
    stranger_top: np.ndarray  # each stranger's best score

    @staticmethod
    def of(
        gallery: np.ndarray,
        mated: np.ndarray,
        mates: np.ndarray,
        strangers: np.ndarray,
        score: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> Searches:
        scores = score(mated, gallery)
        return Searches(
            scores[np.arange(len(mates)), mates],
            mate_ranks(scores, mates),
            scores.max(axis=1),
            score(strangers, gallery).max(axis=1),
        )


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = a @ b.T
    return out


def minus_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """face_recognition's ranking as a score: minus the Euclidean distance of raw vectors."""
    out: np.ndarray = -np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return out


def facegate_points(engine: FaceEngine, n: int, s: Searches) -> list[dict[str, Any]]:
    """Measured FPIR and FNIR at facegate's calibrated 1:N operating points."""
    rows = []
    for name in FPIR_POINTS:
        point = engine.calibration.operating_point(name, gallery_size=n)
        fnir = fnir_at_threshold(s.mate_scores, s.ranks, point.threshold)
        rows.append(
            {
                "operating_point": point.name,
                "threshold": round(point.threshold, 4),
                "fpir_measured": rate(s.stranger_top >= point.threshold),
                "strangers_named_count": int(np.sum(s.stranger_top >= point.threshold)),
                "fnir": round(fnir, 4),
                "rank1_identification_rate": round(1 - fnir, 4),
                "mated_named_wrongly": rate((s.ranks > 1) & (s.mated_top >= point.threshold)),
            }
        )
    return rows


def embed_split(emb: Embeddings, lfw: Path, args: argparse.Namespace) -> Split:
    """Draw the split, embed its photos, and redraw until every chosen photo has a face."""
    while True:
        split = draw_split(lfw, args, emb.has_face())
        emb.ensure(split.enrol_paths + [p for _, p in split.mated] + split.strangers)
        if draw_split(lfw, args, emb.has_face()) == split:
            return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared/data/lfw")
    parser.add_argument("--enrolled", type=int, default=52)
    parser.add_argument("--strangers", type=int, default=400)
    parser.add_argument("--min-images", type=int, default=3, help="photos an enrolled person has")
    parser.add_argument("--max-probes", type=int, default=10, help="mated probes per person")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=0.6)
    parser.add_argument(
        "--calibration-people",
        type=int,
        default=3000,
        help="leave out the people whose photos bench/calibrate.py --people N used (0: none)",
    )
    parser.add_argument("--pack", default="dlib", help="model pack (installed under --home)")
    parser.add_argument("--home", type=Path, default=None, help="data dir of installed packs")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (.npz)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/open_set.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs/img/open_set.png")
    args = parser.parse_args()
    logging.getLogger("facegate").setLevel(logging.ERROR)

    config = EngineConfig(pack=args.pack)
    suffix = "" if args.pack == "dlib" else f"_{args.pack}"
    cache = args.cache or REPO / f"bench/.cache/open_set_v2{suffix}.npz"
    emb = Embeddings(cache, config, args.home)
    split = embed_split(emb, args.lfw, args)
    found = emb.has_face()
    with_face = [(i, p) for i, p in split.mated if found[p]]
    mates = np.array([i for i, _ in with_face])
    probe_paths = [p for _, p in with_face]
    engine = FaceEngine(config, home=args.home)

    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "pack": engine.pack_id,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "data": {
            "enrolled_people": len(split.enrolled),
            "mated_searches": len(with_face),
            "mated_photos_without_face": len(split.mated) - len(with_face),
            "strangers": len(split.strangers),
            "seed": args.seed,
            "min_images": args.min_images,
            "max_probes_per_person": args.max_probes,
            "left_out_calibration_people": args.calibration_people,
        },
    }
    sets = {"gallery": split.enrol_paths, "mated": probe_paths, "strangers": split.strangers}
    raw = {k: emb.matrix(v, raw=True) for k, v in sets.items()}
    unit = {k: emb.matrix(v) for k, v in sets.items()}
    result["face_recognition_rule"] = face_recognition_rule(
        raw["gallery"], raw["mated"], mates, raw["strangers"], args.tolerance
    )
    fg = Searches.of(unit["gallery"], unit["mated"], mates, unit["strangers"], cosine)
    fr = Searches.of(raw["gallery"], raw["mated"], mates, raw["strangers"], minus_distance)
    result["facegate"] = facegate_points(engine, len(split.enrolled), fg)
    result["rank1_at_any_threshold"] = rate(fg.ranks == 1)
    curves = {}
    for key, label, s, higher in (
        ("facegate_cosine", "facegate: cosine of unit vectors", fg, True),
        ("dlib_raw_distance", "face_recognition: distance of raw vectors", fr, False),
    ):
        thresholds, fpir, ir = sweep(s.mate_scores, s.ranks, s.stranger_top)
        result[f"curve_{key}"] = curve_table(thresholds, fpir, ir, higher)
        curves[label + " (threshold sweep)"] = (fpir, ir)
    rule = result["face_recognition_rule"]
    points = {
        f"face_recognition, tolerance {args.tolerance}": (
            rule["strangers_named"],
            rule["rank1_identification_rate"],
        ),
        **{
            f"facegate {row['operating_point']}": (
                row["fpir_measured"],
                row["rank1_identification_rate"],
            )
            for row in result["facegate"]
        },
    }
    title = f"LFW: {len(split.enrolled)} enrolled, {len(split.strangers)} strangers"
    plot(args.plot, curves, points, title)
    result["plot"] = str(args.plot.relative_to(REPO))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("curve")}, indent=2))
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
