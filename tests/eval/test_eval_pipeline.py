"""Cache, extractor, reports and the four evaluation runners, with a fake engine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from facegate.config import EngineConfig
from facegate.eval import metrics as m
from facegate.eval.cache import EmbeddingCache, FaceRecord
from facegate.eval.datasets import FddbImage, FddbSet, Pair, UtkFace
from facegate.eval.detect import evaluate_detection
from facegate.eval.extract import (
    Extractor,
    Task,
    choose_face,
    engine_variant,
    median_relative_box,
)
from facegate.eval.fairness import evaluate_fairness
from facegate.eval.identify import evaluate_identification, split_open_set
from facegate.eval.report import Report, jsonable, line_plot
from facegate.eval.verify import score_pairs, verification_report
from facegate.imageio import ImageSource, decode, write_image
from facegate.types import BBox, DetectResult, Embedding, Face

# A fake engine: identity is written into the pixels. Person k (k >= 1), shot j: every pixel is
# (k, j, 255); blue 0 means no face. Embeddings: a random unit vector per person.


def write_face(path: Path, person: int, shot: int, face: bool = True, size: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[...] = (person, shot, 255 if face else 0)
    write_image(path, pixels)
    return path


def _vector(person: int, shot: int) -> np.ndarray:
    base = np.random.default_rng(person).normal(size=16)
    base /= np.linalg.norm(base)
    base[0] += 0.05 * shot
    return base.astype(np.float32)


class FakeEngine:
    pack_id = "fake-pack"

    def __init__(self) -> None:
        self.calls = 0

    def _face(self, image: ImageSource, box: BBox | None = None) -> tuple[DetectResult, Face]:
        self.calls += 1
        px = decode(image)
        h, w = px.shape[:2]
        r, g, _ = (int(v) for v in px[h // 2, w // 2])
        face = Face(
            box or BBox(w * 0.25, h * 0.25, w * 0.75, h * 0.75),
            score=1.5,
            embedding=Embedding.from_raw(_vector(r, g), self.pack_id),
        )
        return DetectResult(w, h, [face]), face

    def detect(self, image: ImageSource) -> DetectResult:
        return self.analyze(image)

    def analyze(self, image: ImageSource) -> DetectResult:
        result, _ = self._face(image)
        px = decode(image)
        return result if px[0, 0, 2] > 0 else DetectResult(result.width, result.height, [])

    def embed_at(self, image: ImageSource, box: BBox, score: float = 0.0) -> Face:
        return self._face(image, box)[1]


def _record(boxes: list[list[float]], w: int = 100, h: int = 100) -> FaceRecord:
    n = len(boxes)
    return FaceRecord(
        w,
        h,
        np.array(boxes, np.float32).reshape(-1, 4),
        np.ones(n, np.float32),
        np.eye(n, 4, dtype=np.float32),
        np.full(n, np.nan, np.float32),
    )


def test_record_roundtrip_and_cache(tmp_path: Path) -> None:
    rec = _record([[1, 2, 30, 40], [50, 50, 60, 60]])
    back = FaceRecord.from_bytes(rec.to_bytes())
    np.testing.assert_array_equal(back.boxes, rec.boxes)
    np.testing.assert_array_equal(back.embeddings, rec.embeddings)
    assert back.width == 100 and back.error == "" and np.isnan(back.quality).all()
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        cache.put("p", "v", "abc", rec)
        assert cache.get("p", "v", "abc") is not None
        assert cache.get("p", "other", "abc") is None
        assert cache.get("q", "v", "abc") is None
        assert len(cache) == 1
    failed = FaceRecord.from_bytes(FaceRecord.failed("bad").to_bytes())
    assert failed.error == "bad" and failed.count == 0


def test_choose_face_and_median_box() -> None:
    rec = _record([[0, 0, 60, 60], [40, 40, 60, 60]])
    assert choose_face(rec, "largest") == 0
    assert choose_face(rec, "centre") == 1
    assert choose_face(_record([]), "centre") is None
    box = median_relative_box([_record([[10, 20, 50, 60]])] * 12, "centre")
    assert box == pytest.approx((0.1, 0.2, 0.5, 0.6))


def test_extractor_uses_cache(tmp_path: Path) -> None:
    paths = [write_face(tmp_path / f"{k}.png", k, 0) for k in range(1, 4)]
    engines: list[FakeEngine] = []

    def factory() -> FakeEngine:
        engines.append(FakeEngine())
        return engines[-1]

    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        ex = Extractor(factory, pack_id="fake", variant="v1", cache=cache, workers=1)
        first = ex.run(paths + [tmp_path / "absent.png"], Task("analyze"))
        assert first[tmp_path / "absent.png"].error.startswith("unreadable")
        assert ex.stats.computed == 3 and engines[0].calls == 3
        ex2 = Extractor(factory, pack_id="fake", variant="v1", cache=cache, workers=1)
        again = ex2.run(paths, Task("analyze"))
        assert ex2.stats.cached == 3 and ex2.stats.computed == 0 and len(engines) == 1
        np.testing.assert_array_equal(again[paths[0]].embeddings, first[paths[0]].embeddings)


def test_records_of_one_engine_setup_are_not_reused_by_another(tmp_path: Path) -> None:
    base = EngineConfig()
    others = [
        EngineConfig(chip="exact" if base.chip == "fast" else "fast"),
        EngineConfig(detect_min_face=40),
        EngineConfig(detect_max_side=base.detect_max_side // 2),
        EngineConfig(detector_threshold=0.9),
        EngineConfig(landmarks68=True),
        EngineConfig(upsample=0),
        EngineConfig(detector="cnn"),
    ]
    variants = [engine_variant(c) for c in [base, *others]]
    assert len(set(variants)) == len(variants), variants
    assert engine_variant(EngineConfig(operating_point="fmr=1e-2")) == variants[0]
    paths = [write_face(tmp_path / f"{k}.png", k, 0) for k in range(1, 3)]
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        first = Extractor(FakeEngine, pack_id="fake", variant=variants[0], cache=cache, workers=1)
        first.run(paths, Task("analyze"))
        other = Extractor(FakeEngine, pack_id="fake", variant=variants[1], cache=cache, workers=1)
        other.run(paths, Task("analyze"))
        assert other.stats.cached == 0 and other.stats.computed == 2


@pytest.mark.slow
def test_extractor_process_pool_with_real_engine(tmp_path: Path, examples: Path) -> None:
    import functools

    from facegate.config import EngineConfig
    from facegate.pipeline.engine import FaceEngine

    paths = [examples / n for n in ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg")]
    seen: list[tuple[str, int, int]] = []
    ex = Extractor(
        functools.partial(FaceEngine, EngineConfig()),
        pack_id="dlib",
        variant="hog",
        workers=2,
        progress=lambda label, done, total: seen.append((label, done, total)),
    )
    out = ex.run(paths, Task("analyze"), "embed")
    assert [out[p].count for p in paths] == [1, 1, 1, 2]
    assert out[paths[3]].embeddings.shape == (2, 128)
    assert seen[-1] == ("embed", 4, 4)


def _lfw_like(tmp_path: Path) -> tuple[list[Pair], Path]:
    root = tmp_path / "lfw"
    pairs = []
    for k in range(1, 21):
        a = write_face(root / f"p{k}" / "1.png", k, 0)
        b = write_face(root / f"p{k}" / "2.png", k, 1, face=k != 3)  # p3's 2nd image: no face
        c = write_face(root / f"p{k + 30}" / "1.png", k + 30, 0)
        pairs += [Pair(a, b, True, k % 10), Pair(a, c, False, k % 10)]
    return pairs, root


def test_verify_runner(tmp_path: Path) -> None:
    pairs, _ = _lfw_like(tmp_path)
    ex = Extractor(FakeEngine, pack_id="fake", variant="v", workers=1)
    scores = score_pairs(pairs, ex)
    assert len(scores.misses) == 1 and scores.images == 60
    assert np.isnan(scores.detected).sum() == 1 and np.isfinite(scores.fallback).all()
    report = verification_report(scores, None, "fake")
    assert report.summary["accuracy"] == pytest.approx(1.0)
    # the one pair with a miss counts as wrong in its fold (4 pairs)
    assert report.summary["accuracy_miss_as_error"] == pytest.approx(1 - 0.25 / 10)
    assert report.summary["detector_misses"] == 1 and report.summary["auc"] == pytest.approx(1.0)
    assert set(report.summary["tar_at_fmr"]) == {"0.01", "0.001"}
    json_path, html_path = report.write(tmp_path / "out")
    assert json.loads(json_path.read_text())["summary"]["pairs"] == 40
    assert "data:image/png;base64," in html_path.read_text()


def test_identify_runner(tmp_path: Path) -> None:
    root = tmp_path / "people"
    ids = {}
    for k in range(1, 6):
        ids[f"p{k}"] = [write_face(root / f"p{k}" / f"{j}.png", k, j) for j in range(3)]
    for k in range(10, 14):
        ids[f"s{k}"] = [write_face(root / f"s{k}" / "0.png", k, 0)]
    split = split_open_set(ids)
    assert len(split.gallery) == 5 and len(split.mated) == 10 and len(split.nonmated) == 4
    assert split.mated[0] == (ids["p1"][1], 0)
    ex = Extractor(FakeEngine, pack_id="fake", variant="v", workers=1)
    report = evaluate_identification(ids, ex, "centre", "fake")
    s = report.summary
    assert s["rank1"] == 1.0 and s["rank5"] == 1.0 and s["gallery_size"] == 5
    assert s["mated_searches"] == 10 and s["nonmated_searches"] == 4
    assert 0.0 <= s["fnir_at_fpir"]["0.01"] <= 1.0


def test_detect_runner(tmp_path: Path) -> None:
    images = []
    for k in range(4):
        path = write_face(tmp_path / f"{k}.png", 1, 0, face=k != 3, size=40)
        # the fake finds the box (10, 10, 30, 30); a circle inscribed in it matches
        images.append(FddbImage(f"im{k}", path, 1, (m.Ellipse(10, 10, 0, 20, 20),)))
    # a face annotated larger than the box: overlap 400 / (pi 18^2) = 0.39, a near miss
    path = write_face(tmp_path / "big.png", 1, 0)
    images.append(FddbImage("big", path, 1, (m.Ellipse(18, 18, 0, 20, 20),)))
    ex = Extractor(FakeEngine, pack_id="fake", variant="v", workers=1)
    report = evaluate_detection(FddbSet(images, ["gone"]), ex, "fake", "fake")
    s = report.summary
    assert s["detection_rate"] == pytest.approx(0.6) and s["false_positives_per_image"] == 0.2
    assert s["false_positives_overlapping_a_face"] == 1
    assert s["faces_by_face_width"] == {"<40": 5, "40-79": 0, "80-159": 0, ">=160": 0}
    assert s["detection_rate_by_face_width"]["<40"] == pytest.approx(0.6)
    assert s["detection_rate_by_face_width"][">=160"] is None
    assert s["images"] == 5 and s["listed_but_absent"] == 1


def test_fairness_runner(tmp_path: Path) -> None:
    faces = []
    for k in range(1, 21):
        path = write_face(tmp_path / f"{k}.png", k, 0, face=k != 20)
        faces.append(UtkFace(path, 30, "male" if k % 2 else "female", ["white", "black"][k % 2]))
    ex = Extractor(FakeEngine, pack_id="fake", variant="v", workers=1)
    report = evaluate_fairness(faces, ex, None, "fake")
    groups = report.summary["groups"]
    assert groups["gender"]["female"]["failure_to_detect"] == pytest.approx(0.1)
    assert groups["gender"]["male"]["failure_to_detect"] == 0.0
    assert groups["gender"]["male"]["impostor_pairs"] == 45
    assert report.summary["max_min_ratio"]["gender"]["failure_to_detect"] is None  # min is 0
    assert groups["gender"]["male"]["quality_mean"] is None


def test_report_helpers(tmp_path: Path) -> None:
    assert jsonable({"a": math.inf, "b": np.float32(0.5), "c": (np.int64(2),)}) == {
        "a": None,
        "b": 0.5,
        "c": [2],
    }
    png = line_plot([("x", [0.0, 0.0], [0.0, 0.0])], title="t", xlabel="x", ylabel="y", logx=True)
    assert png[:4] == b"\x89PNG"
    html = Report("r", "T <x>", {"k": {"n": 1.0}}).to_html()
    assert "T &lt;x&gt;" in html and "k.n" in html
