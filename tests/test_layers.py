"""The import layers of the package: persistence and privacy never reach up into the service.

``store`` (persistence) and ``privacy`` (audit chain, purpose policies, redaction) sit below
``gallery`` (the service composing engine, store and privacy), which sits below ``server`` and
``cli``. Every import counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "facegate"

FORBIDDEN = {
    "store": ("facegate.privacy", "facegate.gallery", "facegate.server", "facegate.cli"),
    "privacy": ("facegate.gallery", "facegate.server", "facegate.cli"),
    "gallery": ("facegate.server", "facegate.cli", "facegate.apps"),
    "apps": ("facegate.server", "facegate.cli"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("facegate")}


def _modules(layer: str) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted((SRC / layer).rglob("*.py"))}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(layer: str) -> None:
    bad = [
        f"{module} imports {name}"
        for module, names in _modules(layer).items()
        for name in sorted(names)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert not bad, bad


def test_no_two_modules_import_each_other() -> None:
    graph: dict[str, set[str]] = {}
    for layer in FORBIDDEN:
        graph.update(_modules(layer))
    pairs = sorted(
        f"{a} <-> {b}"
        for a, names in graph.items()
        for b in names
        if b in graph and a < b and a in graph[b]
    )
    assert not pairs, pairs
