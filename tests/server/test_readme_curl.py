"""The README's curl command for a JSON body with a base64 image works on a real photo (353 KB,
whose base64 is too long for one command-line argument) against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from live_server import serving

from facegate.config import ServerConfig, Settings
from facegate.server.app import create_app
from facegate.server.keys import KeyStore

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_json_curl() -> str:
    """The README's shell command that sends a JSON body with a base64 image."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "base64 -w0 camera.jpg" in line)
    while lines[start - 1].rstrip().endswith(("|", "\\")):  # back to the command's first line
        start -= 1
    command = []
    for line in lines[start:]:
        command.append(line)
        if not line.rstrip().endswith(("|", "\\")):
            break
    return "\n".join(command)


@pytest.mark.slow
def test_readme_base64_curl_identifies_a_real_photo(examples: Path, tmp_path: Path) -> None:
    if shutil.which("curl") is None or shutil.which("base64") is None:
        pytest.skip("curl and base64 are needed for the README's command")
    photo = examples / "biden.jpg"
    assert photo.stat().st_size > 300_000  # its base64 is over the 128 KiB argument limit
    settings = Settings(home=tmp_path / "data", server=ServerConfig(workers=1))
    store = KeyStore.open(settings.home)
    key = store.create(["admin"], ["*"], "readme test").token
    store.close()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(photo, work / "camera.jpg")
    with serving(create_app(settings), settings.server) as base:
        auth = {"Authorization": f"Bearer {key}"}
        subject = httpx.post(
            f"{base}/v1/subjects", json={"display_name": "Joe Biden"}, headers=auth, timeout=30
        ).json()["subject_id"]
        consent = {"purpose": "door", "evidence": "signed form 3"}
        httpx.post(f"{base}/v1/subjects/{subject}/consents", json=consent, headers=auth)
        command = readme_json_curl().replace("http://127.0.0.1:8000", base)
        proc = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command} --silent --show-error --fail"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "KEY": key},
        )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["purpose"] == "door" and len(answer["faces"]) == 1
    assert answer["faces"][0]["subject"] is None  # enrolled nobody: an honest "unknown"
