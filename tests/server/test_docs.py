"""``/docs`` is served from local files: the page names only local assets, and they are there."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_and_assets_are_local(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert "/docs/assets/swagger-ui-bundle.js" in urls and "/openapi.json" in urls
    assert [u for u in urls if "//" in u] == [], "the page loads something from elsewhere"
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
