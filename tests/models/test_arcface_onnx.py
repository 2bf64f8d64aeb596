"""The ArcFace-format ONNX embedder, ``models add`` and the engine's ArcFace alignment path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from arcface_packs import expected, manifest, pack_folder, tiny_arcface

from facegate.config import EngineConfig
from facegate.errors import ConfigError, ModelChecksumError, ModelConversionError
from facegate.models.arcface_onnx import ArcfaceOnnxEmbedder
from facegate.models.base import Detection
from facegate.models.manifest import parse_manifest
from facegate.models.registry import PackRegistry
from facegate.models.user_packs import add_pack
from facegate.pipeline.align import arcface_chip, arcface_points_from_68
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Landmarks


def chips(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("colour", ["RGB", "BGR"])
@pytest.mark.parametrize("batch", [None, 2])
def test_embedder_follows_its_manifest(
    tmp_path: Path, layout: str, colour: str, batch: int | None
) -> None:
    weights = tiny_arcface(tmp_path / "m.onnx", layout=layout, batch=batch)
    data = manifest(layout=layout, colour=colour, batch=batch)
    data["files"][0].update(sha256="0" * 64, size=1, source={"kind": "user", "path": "m.onnx"})
    spec = parse_manifest(data, "t").roles.embedder
    assert spec is not None
    embedder = ArcfaceOnnxEmbedder(spec, lambda: tmp_path / "m.onnx", batch_size=3)
    faces = chips(5)  # fixed batch 2: runs of 2, 2 and a padded 1
    got = embedder.embed(faces)
    assert got.shape == (5, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected(faces, weights, layout, colour), atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert embedder.embed(faces[:0]).shape == (0, 8)


def test_a_model_whose_output_does_not_fit_the_manifest_is_refused(tmp_path: Path) -> None:
    tiny_arcface(tmp_path / "m.onnx", dim=16)
    data = manifest(dim=8)
    data["files"][0].update(sha256="0" * 64, size=1, source={"kind": "user", "path": "m.onnx"})
    spec = parse_manifest(data, "t").roles.embedder
    assert spec is not None
    with pytest.raises(ModelConversionError, match="16 values per face; .* output_dim 8"):
        ArcfaceOnnxEmbedder(spec, lambda: tmp_path / "m.onnx").embed(chips(1))


def test_models_add_pins_and_installs_the_pack(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pack_folder(tmp_path / "src", manifest())
    pack = add_pack(tmp_path / "src", home)
    assert pack.folder == home / "packs" / "acme"
    installed = json.loads((pack.folder / "manifest.json").read_text())
    assert len(installed["files"][0]["sha256"]) == 64
    assert installed["files"][0]["size"] == (tmp_path / "src" / "model.onnx").stat().st_size
    registry = PackRegistry(home)
    assert registry.names()[-1] == "acme" and registry.status(pack) == "installed"
    assert pack.pack_id == f"acme-{installed['files'][0]['sha256'][:12]}"
    with pytest.raises(ConfigError, match="already exists"):
        add_pack(tmp_path / "src", home)
    (pack.folder / "model.onnx").write_bytes(b"swapped")  # a later swap is caught before use
    with pytest.raises(ModelChecksumError):
        FaceEngine(EngineConfig(pack="acme"), home=home).load()


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        (manifest(dim=4), {}, "output"),
        (manifest(layout="NHWC"), {}, "embedder failed"),
        (
            {**manifest(), "licence": {"code": "x", "weights": "y", "requires_acceptance": True}},
            {},
            "--accept-licence",
        ),
        (
            {**manifest(), "files": [{"name": "model.onnx", "sha256": "1" * 64}]},
            {},
            "does not match",
        ),
        (
            {**manifest(), "files": [{"name": "m", "source": {"kind": "user", "path": "../x"}}]},
            {},
            "not a file inside",
        ),
        (manifest(name="dlib"), {}, "already exists"),
    ],
)
def test_models_add_refuses_bad_packs_and_writes_nothing(
    tmp_path: Path, data: dict[str, object], model: dict[str, object], message: str
) -> None:
    home = tmp_path / "home"
    pack_folder(tmp_path / "src", data, **model)
    with pytest.raises((ConfigError, ModelConversionError), match=message):
        add_pack(tmp_path / "src", home)
    assert not (home / "packs").exists() or not any((home / "packs").iterdir())


def test_engine_aligns_arcface_packs_with_five_points_from_68(
    tmp_path: Path, examples: Path
) -> None:
    """The path the real MobileFaceNet takes: 68 landmarks -> 5 ArcFace points -> 112 chip."""
    home = tmp_path / "home"
    weights = pack_folder(tmp_path / "src", manifest(batch=2), batch=2)
    pack = add_pack(tmp_path / "src", home)
    engine = FaceEngine(EngineConfig(pack="acme"), home=home)
    assert engine.alignment == "arcface-112"
    image = engine.decode(examples / "two_people.jpg")
    faces = engine.analyze(image).faces
    assert len(faces) == 2
    for face in faces:
        assert face.embedding is not None and face.embedding.pack == pack.pack_id
        assert face.landmarks68 is not None and face.quality is not None
        chip = arcface_chip(image, arcface_points_from_68(face.landmarks68), 112)
        want = expected(chip[None], weights, "NCHW", "RGB")[0]
        np.testing.assert_allclose(face.embedding.vector, want, atol=2e-5)
    many = engine.analyze_many([image, image], workers=1)
    np.testing.assert_allclose(
        many[1].faces[0].embedding.vector,  # type: ignore[union-attr]
        faces[0].embedding.vector,  # type: ignore[union-attr]
        atol=1e-6,
    )


def test_models_add_and_list_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facegate.cli.main import main

    home = str(tmp_path / "home")
    pack_folder(tmp_path / "src", manifest())
    for args in (
        ["models", "add", str(tmp_path / "src"), "--data", home],
        ["models", "list", "--data", home, "--json"],
        ["models", "add", str(tmp_path / "nowhere"), "--data", home],
    ):
        with pytest.raises(SystemExit) as info:
            main(args)
        last = info.value.code
    out, err = capsys.readouterr()
    listing = json.loads(out.strip().splitlines()[-1])
    acme = next(p for p in listing["packs"] if p["name"] == "acme")
    assert acme["status"] == "installed" and acme["roles"]["embedder"]["layout"] == "NCHW"
    assert acme["files"][0]["source"] == {"kind": "user", "path": "model.onnx"}
    assert acme["licence"]["weights"] == "licensed to the operator for its site"
    assert last == 2 and err.startswith("error: no manifest.json in") and err.count("\n") == 1


class FivePointDetector:
    """A detector that gives the five ArcFace points itself (as MTCNN does)."""

    name = "five"
    keypoint_layout = "arcface5"

    def __init__(self, box: BBox, points: np.ndarray) -> None:
        self.found = Detection(box, 0.99, Landmarks(points.astype(np.float32)))

    def load(self) -> None:
        pass

    def detect(self, image: np.ndarray) -> list[tuple[BBox, float]]:
        return [(self.found.box, self.found.score)]

    def detect_keypoints(self, image: np.ndarray) -> list[Detection]:
        return [self.found]


def test_engine_uses_a_detectors_arcface_points_without_68_landmarks(
    tmp_path: Path, examples: Path
) -> None:
    home = tmp_path / "home"
    weights = pack_folder(tmp_path / "src", manifest())
    add_pack(tmp_path / "src", home)
    reference = FaceEngine(EngineConfig(pack="acme"), home=home)
    image = reference.decode(examples / "obama.jpg")
    face = reference.analyze(image).faces[0]
    assert face.landmarks68 is not None
    points = arcface_points_from_68(face.landmarks68) + 1.5  # not the 68-point ones
    engine = FaceEngine(
        EngineConfig(pack="acme"), home=home, detector=FivePointDetector(face.box, points)
    )
    got = engine.analyze(image).faces[0]
    assert got.landmarks68 is None and got.embedding is not None
    chip = arcface_chip(image, points, 112)
    want = expected(chip[None], weights, "NCHW", "RGB")[0]
    np.testing.assert_allclose(got.embedding.vector, want, atol=2e-5)


def test_a_flip_pack_embeds_each_chip_with_its_mirror(tmp_path: Path, examples: Path) -> None:
    """``"flip": true`` in the embedder role: the mean of a chip's and its mirror's embeddings,
    tagged with the pack's own pack_id, so it is never compared with the plain pack's."""
    home = tmp_path / "home"
    plain_data, flip_data = manifest("plain"), manifest("flipped")
    flip_data["roles"]["embedder"]["flip"] = True
    weights = pack_folder(tmp_path / "plain", plain_data, seed=3)
    pack_folder(tmp_path / "flipped", flip_data, seed=3)  # the same weights
    plain, flipped = add_pack(tmp_path / "plain", home), add_pack(tmp_path / "flipped", home)
    assert flipped.roles.embedder is not None and flipped.roles.embedder.flip
    assert plain.roles.embedder is not None and not plain.roles.embedder.flip
    assert plain.files[0].sha256 == flipped.files[0].sha256
    assert plain.pack_id != flipped.pack_id
    image = FaceEngine(EngineConfig(pack="plain"), home=home).decode(examples / "obama.jpg")
    a = FaceEngine(EngineConfig(pack="plain"), home=home).analyze(image).faces[0]
    b = FaceEngine(EngineConfig(pack="flipped"), home=home).analyze(image).faces[0]
    assert a.embedding is not None and b.embedding is not None
    assert (a.embedding.pack, b.embedding.pack) == (plain.pack_id, flipped.pack_id)
    assert a.landmarks68 is not None
    chip = arcface_chip(image, arcface_points_from_68(a.landmarks68), 112)
    both = expected(np.stack([chip, chip[:, ::-1]]), weights, "NCHW", "RGB")
    want = both.sum(axis=0) / np.linalg.norm(both.sum(axis=0))
    np.testing.assert_allclose(b.embedding.vector, want, atol=2e-5)
    np.testing.assert_allclose(a.embedding.vector, both[0], atol=2e-5)
