"""Passive PAD: the texture baseline on real NUAA images, and the ONNX PAD slot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from facegate.errors import ConfigError
from facegate.eval.pad import eer_threshold, error_rates, threshold_at_bpcer
from facegate.eval.pad_data import PadSample, read_pad_folder, texture_dataset
from facegate.liveness.pad import OnnxPad, PresentationAttackDetector, decide
from facegate.liveness.texture import TextureModel, TexturePad, lbp_codes, train_texture
from facegate.models.specs import Normalisation, PadSpec
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox


def test_lbp_of_a_flat_image_is_one_uniform_pattern() -> None:
    codes = lbp_codes(np.full((8, 8), 100, np.uint8))
    assert codes.shape == (6, 6)
    assert len(np.unique(codes)) == 1 and int(codes[0, 0]) < 58


def test_error_rates_follow_iso_30107_3_definitions() -> None:
    live = [0.9, 0.8, 0.7, 0.2]
    attacks = {"print": [0.1, 0.75, 0.3], "replay": [0.05]}
    rates = error_rates(live, attacks, 0.5)
    assert rates.apcer == {"print": pytest.approx(1 / 3), "replay": 0.0}
    assert rates.bpcer == pytest.approx(0.25)
    assert rates.acer == pytest.approx((1 / 3 + 0.25) / 2)
    assert threshold_at_bpcer(live, 0.25) == pytest.approx(0.7)
    assert eer_threshold(live, [0.1, 0.75, 0.3, 0.05]) in (0.7, 0.75)


@pytest.fixture(scope="module")
def nuaa(shared_data: Path) -> list[PadSample]:
    root = shared_data / "nuaa_dev"
    if not (root / "labels.csv").exists():
        pytest.skip(f"NUAA images not at {root}")
    return read_pad_folder(root)


def test_texture_baseline_separates_held_out_subjects(nuaa: list[PadSample]) -> None:
    """Trained on subjects 0001 and 0003, scored on 0002 and 0004 (every third image)."""
    engine = FaceEngine()
    train = [s for s in nuaa if s.subject in ("0001", "0003")][::3]
    test = [s for s in nuaa if s.subject in ("0002", "0004")][::3]
    x_train, kept_train, _ = texture_dataset(engine, train)
    x_test, kept_test, _ = texture_dataset(engine, test)
    model = train_texture(x_train, [s.live for s in kept_train])
    scores = model.probability(x_test)
    live = np.array([s.live for s in kept_test])
    assert live.any() and (~live).any()
    # AUC: the chance that a live image scores above a print (0.5 for a useless model).
    auc = np.mean(scores[live][:, None] > scores[~live][None, :])
    assert auc > 0.7


def test_texture_model_round_trips_and_refuses_other_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (20, 5)), rng.normal(2, 1, (20, 5))])
    model = train_texture(x, [False] * 20 + [True] * 20)
    path = tmp_path / "pad.npz"
    model.save(path)
    again = TextureModel.load(path)
    assert again.threshold == model.threshold and again.method == model.method
    np.testing.assert_allclose(again.probability(x), model.probability(x))
    assert isinstance(TexturePad(again), PresentationAttackDetector)
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ConfigError):
        TextureModel.load(tmp_path / "junk.npz")
    with pytest.raises(ConfigError, match="both"):
        train_texture(x, [True] * 40)


def _red_detector(path: Path, size: int) -> None:
    """An ONNX PAD model: logits (mean of channel 0, 0) of the NCHW input."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["m"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["m", "w"], ["logits"]),
        ],
        "pad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [1, 0, 0, 0, 0, 0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize(("order", "live"), [("RGB", True), ("BGR", False)])
def test_onnx_pad_reads_its_manifest_spec(tmp_path: Path, order: str, live: bool) -> None:
    path = tmp_path / "pad.onnx"
    _red_detector(path, 32)
    spec = PadSpec(
        "onnx-pad",
        "pad.onnx",
        "none",
        32,
        "NCHW",
        order,  # type: ignore[arg-type]
        Normalisation((127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
        0,
    )
    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 0] = 255  # pure red: channel 0 is +1 after normalisation in RGB, -1 in BGR
    decision = decide(OnnxPad(spec, path, name="test"), image, BBox(30, 30, 70, 70))
    assert decision.live is live
    assert decision.method == "onnx-pad:test/pad.onnx"
    assert decision.score == pytest.approx(1 / (1 + np.exp(-1 if live else 1)), abs=1e-5)
