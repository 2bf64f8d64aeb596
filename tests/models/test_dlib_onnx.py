"""The converted ONNX networks must agree with dlib's own runtime on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.models import mmod
from facegate.models.convert import verify_against_dlib
from facegate.models.dlib_format import read_network
from facegate.models.dlib_onnx import (
    build_embedder,
    build_mmod,
    min_input_size,
    output_to_input_map,
)
from facegate.models.files import model_path
from facegate.models.onnx_runtime import OnnxEmbedder, OnnxMmodDetector
from facegate.types import BBox, ImageArray

dlib = pytest.importorskip("dlib")

EMBEDDER = "dlib_face_recognition_resnet_model_v1.dat"
MMOD = "mmod_human_face_detector.dat"
MIN_COSINE = 0.9999
MIN_IOU = 0.95
SCORE_MARGIN = 0.01  # detections this close to the threshold may flip either way


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("facegate-cache")


def _load(path: Path) -> ImageArray:
    image: ImageArray = dlib.load_rgb_image(str(path))
    return image


@pytest.fixture(scope="module")
def chips(examples: Path, lfw: Path) -> ImageArray:
    """Aligned chips made the way dlib's examples make them (HOG + 5 points + get_face_chip)."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
    photos = [(examples / name, 1) for name in ("obama_small.jpg", "alex-lacamoire.png")]
    photos += [(examples / "two_people.jpg", 0), (examples / "lin-manuel-miranda.png", 0)]
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:8]
    photos += [(sorted(person.glob("*.jpg"))[0], 1) for person in people]
    out = []
    for path, upsample in photos:
        image = _load(path)
        for rect in detector(image, upsample):
            shape = predictor(image, rect)
            out.append(dlib.get_face_chip(image, shape, size=150, padding=0.25))
    if len(out) < 8:
        pytest.skip("too few faces found in the shared photos")
    return np.stack(out)


@pytest.fixture(scope="module")
def dlib_descriptors(chips: ImageArray) -> np.ndarray:
    model = dlib.face_recognition_model_v1(str(model_path(EMBEDDER)))
    return np.asarray([np.asarray(model.compute_face_descriptor(c)) for c in chips])


def test_embedder_graph_has_dynamic_batch_and_uint8_input() -> None:
    model = build_embedder(read_network(model_path(EMBEDDER)))
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "chips" and inp.type.tensor_type.elem_type == 2  # UINT8
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [150, 150, 3]
    assert model.graph.output[0].name == "embedding"


def test_embedder_agrees_with_dlib_per_face(
    cache_dir: Path, chips: ImageArray, dlib_descriptors: np.ndarray
) -> None:
    raw = OnnxEmbedder(cache_dir).embed_raw(chips).astype(np.float64)
    ref = dlib_descriptors
    cosine = (raw * ref).sum(1) / (np.linalg.norm(raw, axis=1) * np.linalg.norm(ref, axis=1))
    assert cosine.min() >= MIN_COSINE, cosine
    np.testing.assert_allclose(raw, ref, atol=1e-4)


def test_embeddings_are_unit_rows_and_batching_does_not_change_them(
    cache_dir: Path, chips: ImageArray
) -> None:
    batched = OnnxEmbedder(cache_dir, batch_size=32).embed(chips)
    single = OnnxEmbedder(cache_dir, batch_size=1).embed(chips[:3])
    assert batched.dtype == np.float32 and batched.shape == (len(chips), 128)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(single, batched[:3], atol=1e-5)
    embedder = OnnxEmbedder(cache_dir)  # one chip at a time: its one-thread session
    one_by_one = np.concatenate([embedder.embed(chip[None]) for chip in chips[:3]])
    np.testing.assert_allclose(one_by_one, batched[:3], atol=1e-5)


def test_mmod_graph_maps_cells_to_pixels_like_dlib() -> None:
    net = read_network(model_path(MMOD))
    # three stride-2 5x5 convolutions without padding: p -> 2p + 2, three times
    assert output_to_input_map(net) == (8.0, 14.0, 8.0, 14.0)
    assert min_input_size(net) == 29  # 1 -> 5 -> 13 -> 29 back through the strided layers
    model = build_mmod(net)
    assert [i.name for i in model.graph.input] == ["pyramid"]
    assert [o.name for o in model.graph.output] == ["scores"]


@pytest.mark.parametrize("shape", [(1, 5), (13, 2), (31, 37), (100, 3)])
def test_pyramid_up_is_bit_exact_on_random_images(shape: tuple[int, int]) -> None:
    image = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    rows, cols = shape
    expected = dlib.resize_image(image, 2 * rows + 1, 2 * cols + 2)  # what pyramid_up calls
    np.testing.assert_array_equal(mmod.pyramid_up(image), expected)


def test_pyramid_up_is_bit_exact_on_a_photo(examples: Path) -> None:
    image = _load(examples / "obama_small.jpg")
    expected = dlib.resize_image(image, 2 * 240 + 1, 2 * 320 + 2)
    np.testing.assert_array_equal(mmod.pyramid_up(image), expected)


def _assert_same_faces(
    reference: list[tuple[BBox, float]], found: list[tuple[BBox, float]]
) -> float:
    """Every confident face on one side has a partner on the other; returns the worst IoU."""
    worst = 1.0
    for ours, theirs in ((reference, found), (found, reference)):
        for box, score in ours:
            best = max((box.iou(other) for other, _ in theirs), default=0.0)
            if score > SCORE_MARGIN or best > 0:
                assert best >= MIN_IOU, (box, score, theirs)
                worst = min(worst, best)
    return worst


def _dlib_cnn(image: ImageArray, upsample: int) -> list[tuple[BBox, float]]:
    model = dlib.cnn_face_detection_model_v1(str(model_path(MMOD)))
    h, w = image.shape[:2]
    return [
        (
            BBox(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1).clip(w, h),
            d.confidence,
        )
        for d in model(image, upsample)
    ]


def _check_detector(cache_dir: Path, image: ImageArray, upsample: int) -> None:
    reference = _dlib_cnn(image, upsample)
    found = OnnxMmodDetector(cache_dir, upsample=upsample).detect(image)
    assert reference, "the reference detector found no face: pick another photo"
    _assert_same_faces(reference, found)
    for box, score in found:
        partner = max(reference, key=lambda item: box.iou(item[0]))
        assert score == pytest.approx(partner[1], abs=1e-4)


@pytest.mark.parametrize("upsample", [0, 1])
def test_cnn_detector_agrees_with_dlib_on_a_small_photo(
    cache_dir: Path, examples: Path, upsample: int
) -> None:
    _check_detector(cache_dir, _load(examples / "obama_small.jpg"), upsample)


def test_cnn_detector_agrees_with_dlib_on_lfw(cache_dir: Path, lfw: Path) -> None:
    person = sorted(p for p in lfw.iterdir() if p.is_dir())[0]
    _check_detector(cache_dir, _load(sorted(person.glob("*.jpg"))[0]), 1)


@pytest.mark.slow
def test_cnn_detector_agrees_with_dlib_on_two_people(cache_dir: Path, examples: Path) -> None:
    _check_detector(cache_dir, _load(examples / "two_people.jpg"), 0)


@pytest.mark.slow
def test_cnn_detector_agrees_with_dlib_on_a_crowded_photo(
    cache_dir: Path, shared_data: Path
) -> None:
    path = shared_data / "fddb" / "originalPics" / "2002" / "07" / "23" / "big" / "img_384.jpg"
    if not path.exists():
        pytest.skip(f"FDDB photo not found at {path}")
    _check_detector(cache_dir, _load(path), 1)


def test_verify_against_dlib_reports_agreement(
    cache_dir: Path, chips: ImageArray, examples: Path
) -> None:
    report = verify_against_dlib(cache_dir, chips[:4], [_load(examples / "obama_small.jpg")], 0)
    assert report.chips == 4 and report.min_cosine >= MIN_COSINE
    assert report.dlib_faces == report.onnx_faces == report.matched_faces == 1
    assert report.min_iou >= MIN_IOU
    assert set(report.as_dict()) >= {"min_cosine", "min_iou"}
