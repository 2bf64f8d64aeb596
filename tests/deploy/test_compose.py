"""deploy/compose.yaml, nginx.conf and the Dockerfile, read as data (Docker is not needed).

The compose file must name the services docs/DEPLOY.md describes, give each a healthcheck,
wire the workers to PostgreSQL and Milvus with settings facegate accepts, and put the proxy in
front of exactly those workers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from facegate.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
WORKERS = ("facegate-a", "facegate-b")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _resolved(value: str) -> str:
    """``${VAR:?message}`` / ``${VAR}`` as compose would fill them, with stand-in secrets."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"test-{m.group(1).lower()}", value)


def test_services_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "milvus", "proxy", *WORKERS}
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "9091/healthz" in " ".join(services["milvus"]["healthcheck"]["test"])
    assert services["milvus"]["command"] == ["milvus", "run", "standalone"]
    for worker in WORKERS:
        assert "/healthz" in " ".join(services[worker]["healthcheck"]["test"])


def test_workers_point_at_postgres_and_milvus_with_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose["services"]
    data_volumes = set()
    for worker in WORKERS:
        service = services[worker]
        env = {k: _resolved(str(v)) for k, v in service["environment"].items()}
        assert env["FACEGATE_STORE__URL"].startswith("postgresql+psycopg://facegate:")
        assert "@postgres:5432/facegate" in env["FACEGATE_STORE__URL"]
        assert env["FACEGATE_GALLERY__MILVUS__URI"] == "http://milvus:19530"
        for dependency in ("postgres", "milvus"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy"
        for key in list(Settings.model_fields):
            monkeypatch.delenv(f"FACEGATE_{key.upper()}", raising=False)
        for key, value in env.items():
            assert key.startswith("FACEGATE_"), key
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.gallery.vector_backend == "milvus"
        assert settings.gallery.milvus.index_type == "HNSW"
        assert settings.gallery.milvus.index_params == {"M": 32, "efConstruction": 200}
        assert settings.server.host == "0.0.0.0" and settings.server.port == 8000
        assert settings.store.url == env["FACEGATE_STORE__URL"]
        assert settings.master_key is not None
        (volume,) = service["volumes"]
        name, target = volume.split(":")
        assert target == "/data" and name in compose["volumes"]
        data_volumes.add(name)
    assert len(data_volumes) == len(WORKERS)  # each worker its own data dir
    assert "pgdata" in compose["volumes"] and "milvus" in compose["volumes"]


def test_postgres_credentials_match_the_workers(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]["environment"]
    url = _resolved(compose["services"]["facegate-a"]["environment"]["FACEGATE_STORE__URL"])
    user, password = re.match(r"postgresql\+psycopg://(\w+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    assert (pg["POSTGRES_USER"], _resolved(pg["POSTGRES_PASSWORD"])) == (user, password)
    assert url.endswith("/" + pg["POSTGRES_DB"])


def test_proxy_sends_to_exactly_the_workers(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert set(proxy["depends_on"]) == set(WORKERS)
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream facegate \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"server ([\w-]+):(\d+)", upstream.group(1))
    assert sorted(servers) == [(w, "8000") for w in WORKERS]
    assert "proxy_pass http://facegate;" in conf
    assert "client_max_body_size 16m;" in conf  # facegate's own default body limit
    assert Settings().server.max_body_bytes == 16 * 1024 * 1024


def test_dockerfile_is_slim_and_runs_the_tested_install_steps() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert "RUN sh /src/deploy/install.sh /src /opt/facegate server,postgres,milvus" in text
    assert not re.search(r"apt-get|build-essential|gcc", text)
    assert 'CMD ["facegate", "serve"]' in text and "HEALTHCHECK" in text
    assert "USER facegate" in text
    copied = re.findall(r"^COPY (.+) /src/", text, re.M)
    for line in copied:
        for path in line.split():
            assert (ROOT / path).exists(), path
