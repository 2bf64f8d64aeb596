"""ONNX Runtime wrappers with fake sessions, the MMOD helpers, and the conversion cache."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from facegate.errors import ModelChecksumError, ModelConversionError
from facegate.models import mmod
from facegate.models.base import Detector, Embedder, InferenceSession
from facegate.models.convert import CNN_FILE, EMBEDDER_FILE, convert, source_path
from facegate.models.files import DLIB_FILES
from facegate.models.onnx_runtime import OnnxEmbedder, OnnxMmodDetector, create_session
from facegate.types import BBox

CONFIG = mmod.MmodConfig(
    means=(122.782, 117.001, 104.298),
    pyramid_padding=10,
    pyramid_outer_padding=11,
    windows=((80, 80),),
    nms_iou=0.338,
    nms_covered=1.0,
    cell_to_pixel=(8.0, 14.0, 8.0, 14.0),
)


class FakeSession:
    """Returns canned outputs and records what it was fed."""

    def __init__(self, make_output: object) -> None:
        self.make_output = make_output
        self.feeds: list[dict[str, npt.NDArray[np.generic]]] = []

    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, npt.NDArray[np.generic]]
    ) -> Sequence[npt.NDArray[np.generic]]:
        self.feeds.append(dict(input_feed))
        return [self.make_output(input_feed)]  # type: ignore[operator]


def test_wrappers_implement_the_protocols(tmp_path: Path) -> None:
    assert isinstance(OnnxEmbedder(tmp_path), Embedder)
    assert isinstance(OnnxMmodDetector(tmp_path), Detector)
    assert isinstance(FakeSession(None), InferenceSession)


def test_embedder_batches_and_normalises(tmp_path: Path) -> None:
    session = FakeSession(lambda feed: np.full((len(feed["chips"]), 128), 3.0, np.float32))
    embedder = OnnxEmbedder(tmp_path, session=session, batch_size=4)
    out = embedder.embed(np.zeros((10, 150, 150, 3), np.uint8))
    assert [len(feed["chips"]) for feed in session.feeds] == [4, 4, 2]
    assert out.shape == (10, 128) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_embedder_empty_and_bad_input(tmp_path: Path) -> None:
    embedder = OnnxEmbedder(tmp_path, session=FakeSession(None))
    assert embedder.embed(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match="150"):
        embedder.embed(np.zeros((2, 112, 112, 3), np.uint8))


def _score_size(n: int) -> int:
    for _ in range(3):  # three 5x5 stride-2 convolutions without padding
        n = (n - 5) // 2 + 1
    return n


def _one_hit(feed: Mapping[str, npt.NDArray[np.generic]]) -> npt.NDArray[np.float32]:
    _, _, h, w = feed["pyramid"].shape
    scores = np.full((1, 1, _score_size(h), _score_size(w)), -1.0, np.float32)
    scores[0, 0, 6, 6] = 2.0  # pixel 8 * 6 + 14 = 62 of the canvas, inside level 0
    scores[0, 0, 6, 7] = 1.5  # overlaps the first: removed by NMS
    return scores


def test_detector_maps_a_score_cell_to_a_box(tmp_path: Path) -> None:
    session = FakeSession(_one_hit)
    detector = OnnxMmodDetector(tmp_path, upsample=0, session=session, config=CONFIG)
    found = detector.detect(np.zeros((100, 100, 3), np.uint8))
    # window 80 centred on 62, minus the 11-pixel outer padding: 11.5..90.5, rounded away
    assert found == [(BBox(12.0, 12.0, 92.0, 92.0), 2.0)]
    assert session.feeds[0]["pyramid"].dtype == np.float32


def test_detector_threshold_and_validation(tmp_path: Path) -> None:
    detector = OnnxMmodDetector(
        tmp_path, upsample=0, threshold=5.0, session=FakeSession(_one_hit), config=CONFIG
    )
    assert detector.detect(np.zeros((100, 100, 3), np.uint8)) == []
    with pytest.raises(ValueError, match="RGB"):
        detector.detect(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError, match="upsample"):
        OnnxMmodDetector(tmp_path, upsample=-1)


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (2, 7), (5, 5), (20, 3), (8, 8)])
@pytest.mark.parametrize("upsample", [0, 1])
def test_tiny_images_give_no_faces(tmp_path: Path, shape: tuple[int, int], upsample: int) -> None:
    detector = OnnxMmodDetector(tmp_path, upsample=upsample)
    assert detector.detect(np.zeros((*shape, 3), np.uint8)) == []


def test_tiled_pyramid_layout() -> None:
    rects, nr, nc = mmod.tiled_pyramid_rects(480, 640, padding=10, outer=11)
    assert nc == 640 + 22 and rects[0] == (11, 11, 650, 490)
    sizes = [(r - left + 1, b - t + 1) for left, t, r, b in rects]
    assert sizes[1] == (533, 400)  # floor(5/6 * 640), floor(5/6 * 480)
    assert all(h >= mmod.MIN_LEVEL_HEIGHT for _, h in sizes)
    for i, (left, t, r, b) in enumerate(rects):
        assert 0 <= left <= r < nc and 0 <= t <= b < nr
        for other in rects[i + 1 :]:
            assert r < other[0] or other[2] < left or b < other[1] or other[3] < t


def test_pyramid_up_size_and_corners() -> None:
    image = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    up = mmod.pyramid_up(image)
    assert up.shape == (15, 20, 3)
    np.testing.assert_array_equal(up[0, 0], image[0, 0])
    np.testing.assert_array_equal(up[-1, -1], image[-1, -1])


def test_rect_down_inverts_dlib_pyramid_up() -> None:
    boxes = np.array([[10, 20, 110, 120]], np.int64)
    assert mmod.rect_down(boxes, 1).tolist() == [[4, 9, 54, 59]]
    assert mmod.rect_down(boxes, 0).tolist() == boxes.tolist()


def test_convert_caches_by_source_hash(tmp_path: Path) -> None:
    target = convert(source_path(CNN_FILE), tmp_path)
    assert target == tmp_path / "models" / f"{DLIB_FILES[CNN_FILE].sha256}.onnx"
    stamp = target.stat().st_mtime_ns
    assert convert(source_path(CNN_FILE), tmp_path) == target
    assert target.stat().st_mtime_ns == stamp
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left


def test_convert_checks_the_pin(tmp_path: Path) -> None:
    fake = tmp_path / EMBEDDER_FILE
    fake.write_bytes(b"\x01\x01not really a network")
    with pytest.raises(ModelChecksumError):
        convert(fake, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_convert_refuses_files_that_are_not_networks(tmp_path: Path) -> None:
    with pytest.raises(ModelConversionError, match="not a dlib network"):
        convert(source_path("shape_predictor_5_face_landmarks.dat"), tmp_path)
    other = tmp_path / "something.dat"
    shutil.copy(source_path(CNN_FILE), other)
    with pytest.raises(ModelConversionError):
        convert(other, tmp_path)


def test_session_runs_the_converted_detector_and_logs_providers_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    onnx_path = convert(source_path(CNN_FILE), tmp_path)
    with caplog.at_level(logging.INFO, logger="facegate.models.onnx_runtime"):
        session = create_session(onnx_path)
        create_session(onnx_path)
    (scores,) = session.run(["scores"], {"pyramid": np.zeros((1, 3, 60, 80), np.float32)})
    assert scores.shape == (1, 1, _score_size(60), _score_size(80))
    assert "CPUExecutionProvider" in session.get_providers()
    assert len([r for r in caplog.records if "providers in use" in r.getMessage()]) <= 1


def test_a_damaged_cached_model_is_converted_again(tmp_path: Path) -> None:
    target = convert(source_path(CNN_FILE), tmp_path)
    target.write_bytes(b"truncated")
    detector = OnnxMmodDetector(tmp_path, upsample=0)
    detector.load()
    assert target.stat().st_size > 100_000
    assert detector.detect(np.zeros((60, 60, 3), np.uint8)) == []


def test_session_errors_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelConversionError, match="ONNX Runtime"):
        create_session(b"not an onnx model")


def _identity_model() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def test_processes_can_share_the_cores_out_between_their_sessions() -> None:
    import os

    from facegate.models.onnx_runtime import set_intra_op_threads

    model = _identity_model()
    try:
        set_intra_op_threads(1)
        assert create_session(model).get_session_options().intra_op_num_threads == 1
        set_intra_op_threads(0)  # never fewer than one
        assert create_session(model).get_session_options().intra_op_num_threads == 1
    finally:
        set_intra_op_threads(None)
    default = create_session(model).get_session_options().intra_op_num_threads
    assert default == (os.cpu_count() or 1)
