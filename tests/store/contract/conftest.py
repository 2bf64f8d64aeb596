"""The store contract: every test in this folder runs once per backend, unchanged.

``backend`` is the embedded SQLite file in a temporary data dir, or a new database on the test
run's throwaway PostgreSQL cluster (``pg_url``, tests/conftest.py; skipped with the reason
where PostgreSQL cannot be started). Subprocesses reach the same store through
``Backend.env()`` (``FACEGATE_STORE__URL``) and the shared data dir (its master key file).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

for _folder in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1]):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from contract_backend import Backend  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    yield Backend(request.param, tmp_path / "data", url)
