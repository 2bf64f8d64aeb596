"""Property-based run of the whole OpenAPI document against the real app over HTTP.

schemathesis generates requests from ``/openapi.json`` (valid and invalid ones: wrong types,
huge numbers, odd strings, missing fields) for every operation, with an admin key; no answer
may be a 5xx, and every error must be ``application/problem+json``. Bounded: a fixed number of
examples per operation and a fixed seed, so a run is repeatable and takes a few minutes at most.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, settings  # noqa: E402
from live_server import serving  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from facegate.config import ServerConfig, Settings  # noqa: E402
from facegate.server.app import create_app  # noqa: E402
from facegate.server.keys import KeyStore  # noqa: E402

PROBLEM = "application/problem+json"
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("schemathesis") / "data"
    cfg = Settings(home=home, server=ServerConfig(workers=1, queue_size=4))
    store = KeyStore.open(home)
    try:
        admin = store.create(["admin"], ["*"], "schemathesis").token
    finally:
        store.close()
    with serving(create_app(cfg), cfg.server) as base:
        yield base, admin


# The document the app serves at /openapi.json (it does not depend on the settings).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


def problem_json_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is RFC 9457 problem+json with a detail."""
    if response.status_code >= 400:
        kind = response.headers.get("content-type", [""])
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind.startswith(PROBLEM), f"{response.status_code} sent as {kind!r}"
        assert response.json().get("detail"), "a problem without a detail"
    return None


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, live: tuple[str, str]) -> None:
    base, admin = live
    case.call_and_validate(
        base_url=base,
        headers={"Authorization": f"Bearer {admin}"},
        checks=[not_a_server_error, problem_json_errors],
        timeout=30,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([str(Path(__file__))]))
