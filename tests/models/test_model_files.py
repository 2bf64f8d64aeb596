from __future__ import annotations

from pathlib import Path

import pytest

from facegate.errors import ModelChecksumError, ModelFileMissingError
from facegate.models import files


def test_every_pinned_file_is_installed_and_matches() -> None:
    for name in files.DLIB_FILES:
        assert files.file_status(name) == "ok"
        assert files.model_path(name).stat().st_size == files.DLIB_FILES[name].size


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "shape_predictor_5_face_landmarks.dat"
    fake.write_bytes(b"not the real model")
    with pytest.raises(ModelChecksumError, match="pip install --force-reinstall"):
        files.check_file(fake, files.DLIB_FILES[fake.name].sha256)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match="model file missing"):
        files.check_file(tmp_path / "nope.dat", "0" * 64)


def test_missing_package_is_a_clear_error() -> None:
    with pytest.raises(ModelFileMissingError, match="not installed"):
        files.package_dir("facegate_no_such_package")


def test_model_files_are_found_without_importing_the_package() -> None:
    import sys

    sys.modules.pop("face_recognition_models", None)
    files.package_dir()
    assert "face_recognition_models" not in sys.modules
