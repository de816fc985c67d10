"""Imports flow one way (guide/architecture.md): api → services → models, schemas → errors,
config. Read from the source, without importing it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

#: For each package: the app packages it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "services": {"api", "cli", "main", "dashboard", "demo"},
    "models": {"api", "services", "schemas", "db", "cli", "main", "demo"},
    "schemas": {"api", "services", "db", "cli", "main", "demo"},
    "db": {"api", "services", "models", "schemas", "cli", "main", "demo"},
    "demo": {"api", "cli", "main"},
    "errors": {"api", "services", "models", "schemas", "db", "cli", "main", "demo", "config"},
    "vocabulary": {"api", "services", "models", "schemas", "db", "cli", "main", "demo"},
    "config": {"api", "services", "models", "schemas", "db", "cli", "main", "demo"},
    "cli": {"api"},
    # the hash definitions stand on their own (migrations and verify use them too)
    "chain": {"api", "services", "models", "schemas", "db", "cli", "main", "demo", "config"},
}


def _package(path: Path) -> str:
    relative = path.relative_to(APP)
    return relative.parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """The app packages a module imports (``app.x…`` → ``x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "app":
                names = [f"app.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(path for path in APP.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(APP)))
def test_imports_flow_one_way(path: Path) -> None:
    package = _package(path)
    wrong = _imported(path) & FORBIDDEN.get(package, set())
    assert not wrong, f"{path.relative_to(APP)} imports {sorted(wrong)}"


def test_nothing_imports_the_api_but_main() -> None:
    importers = {
        str(path.relative_to(APP))
        for path in MODULES
        if "api" in _imported(path) and _package(path) != "api"
    }
    assert importers == {"main.py"}
