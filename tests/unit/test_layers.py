"""The package's layering, checked on the source: arrows point one way (docs/architecture.md,
DESIGN). A module importing against the direction fails here, naming the file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "streams"

#: (modules under, may not import) -- function-local imports count too
RULES = [
    ("streams.serdes", "streams.state"),
    ("streams.state", "confluent_kafka"),
    ("streams.state", "streams.runtime"),
    ("streams.engine", "confluent_kafka"),
    ("streams.engine", "streams.runtime"),
    ("streams.engine", "streams.dsl"),
    ("streams.runtime", "streams.dsl"),
    ("streams.topology", "streams.dsl"),
    ("streams.topology", "streams.engine"),
    ("streams.topology", "streams.runtime"),
    ("streams.processor", "streams.runtime"),
    ("streams.processor", "streams.engine"),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(("layer", "forbidden"), RULES)
def test_no_import_against_the_layer_direction(layer: str, forbidden: str) -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py")) if _within(_module_name(path), layer)
        for line, name in _imports(path) if _within(name, forbidden)
    ]
    assert not offending, f"{layer} must not import {forbidden}:\n" + "\n".join(offending)


def test_the_rules_see_the_package() -> None:
    # a rule over an empty set of modules would pass for nothing
    layers = {layer for layer, _ in RULES}
    names = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert all(any(_within(n, layer) for n in names) for layer in layers)
