"""The dependency rule (DESIGN §2), checked on the source: arrows point inward only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = {"domain", "application", "projections", "interfaces", "infra"}

# What each layer may import from our own packages; third-party limits are checked below.
ALLOWED = {
    "domain": {"domain"},
    "application": {"domain", "application"},
    "projections": {"domain", "projections"},
    "infra": {"domain", "application", "infra"},
    "interfaces": OUR_PACKAGES,
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_inward(layer: str) -> None:
    broken = []
    for path in sources(layer):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in OUR_PACKAGES and top not in ALLOWED[layer]:
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_domain_imports_only_the_stdlib_and_eventsourcing_domain() -> None:
    import sys

    broken = []
    for path in sources("domain"):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in {"domain", "__future__"}:
                continue
            if name != "eventsourcing.domain":
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []
