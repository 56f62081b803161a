"""Layers import downwards only (DESIGN.md), and the public API resolves."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import alstrial

PACKAGE = Path(alstrial.__file__).parent

# Rank of each top-level part; a module may import only parts of lower or equal rank.
RANKS = {
    "exceptions": 0,
    "vocabulary": 0,
    "settings": 0,
    "data": 0,
    "scoring": 1,
    "stats": 1,
    "protocol": 1,
    "manufacturing": 2,
    "safety": 2,
    "store": 3,
    "services": 4,
    "interop": 5,
    "reporting": 5,
    "cli": 6,
    "web": 6,
}
PURE = {"scoring", "stats", "protocol"}


def _part(module: str) -> str | None:
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "alstrial" and len(pieces) > 1 else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _violations() -> list[str]:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "__init__.py":
            continue
        own = relative.parts[0].removesuffix(".py")
        if own not in RANKS:
            problems.append(f"{relative}: part {own!r} has no layer rank")
            continue
        for module in _imports(path):
            target = _part(module)
            if target is None or target == own:
                continue
            if RANKS.get(target, 99) > RANKS[own]:
                problems.append(f"{relative} imports {module} (a higher layer)")
            if own in PURE and target not in PURE | {"exceptions", "vocabulary"}:
                problems.append(f"{relative} imports {module} (pure modules import no I/O layer)")
    return problems


def test_layers_import_downwards_only() -> None:
    assert _violations() == []


def test_the_checker_catches_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "alstrial"
    (fake / "store").mkdir(parents=True)
    (fake / "store" / "bad.py").write_text("from alstrial.cli.main import app\n")
    monkeypatch.setattr("tests.test_architecture.PACKAGE", fake)
    assert _violations() == ["store/bad.py imports alstrial.cli.main (a higher layer)"]


@pytest.mark.parametrize(
    "module",
    [
        "alstrial",
        "alstrial.protocol",
        "alstrial.scoring",
        "alstrial.stats",
        "alstrial.services",
        "alstrial.store",
        "alstrial.store.models",
        "alstrial.exceptions",
    ],
)
def test_exported_members_exist(module: str) -> None:
    imported = importlib.import_module(module)
    exported = imported.__all__
    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(imported, name), f"{module}.{name}"
