"""The image's build steps (deploy/install.sh, which the Dockerfile runs) without Docker.

Builds facegate's wheel from this checkout, installs it with the image's extras into a fresh
virtual environment with the compilers pointed at ``false``, and runs ``facegate --version``
and the imports the workers need. Needs PyPI (or pip's cache); skips with the reason without.

pip does not byte-compile the installed packages here (``PIP_COMPILE=0``, pip's setting for
``--compile``): writing ``.pyc`` files for every dependency took a large part of the install and
has nothing to do with what is checked (every dependency a binary wheel, no compiler, the
command and the workers' imports run). The image itself still compiles them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from facegate import __version__

ROOT = Path(__file__).resolve().parents[2]


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_install_steps_build_and_run_facegate(tmp_path: Path) -> None:
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable: the image's install steps need it")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = {**os.environ, "PYTHON": sys.executable, "PIP_COMPILE": "0"}
    done = subprocess.run(
        ["sh", str(ROOT / "deploy/install.sh"), str(src), str(tmp_path / "opt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[0] == f"facegate {__version__}"
    assert not (tmp_path / "opt/wheels").exists()
