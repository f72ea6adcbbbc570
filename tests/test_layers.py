"""The package is layered as docs/architecture.md says: every import (module-level or inside a function) goes to the
importer's own layer or a lower one, module-level imports have no cycle, and every module has a layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "alwa_yolo"


def module_name(path: Path) -> str:
    """``alwa_yolo/losses/detection.py`` -> ``alwa_yolo.losses.detection``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layers() -> dict[str, int]:
    """Module -> layer number, read from docs/architecture.md's "### N. ..." sections."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    found: dict[str, int] = {}
    for number, body in re.findall(r"^### (\d+)\. .*?\n(.*?)(?=^### |^## |\Z)", text, flags=re.M | re.S):
        for path in re.findall(r"^\| `(alwa_yolo/[\w/]+\.py)` \|", body, flags=re.M):
            found[module_name(ROOT / path)] = int(number)
    return found


def imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported alwa_yolo module, line, module-level?) for every import in module ``name`` (the file ``path``)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, (ast.If, ast.Try)) for c in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from . import probes`` imports a module; ``from .weighting import WEIGHTINGS`` a name of one
            targets = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES] or [target]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found += [(t, node.lineno, id(node) in top) for t in targets if t.split(".")[0] == "alwa_yolo"]
    return found


def test_every_module_has_a_layer():
    placed = layers()
    assert set(MODULES) <= set(placed), f"docs/architecture.md places no layer for {sorted(set(MODULES) - set(placed))}"


def upward(placed: dict[str, int], modules: dict[str, Path]) -> list[str]:
    """Each import in ``modules`` of a module in a higher layer than its importer's."""
    return [
        f"{name}:{line} ({placed[name]}) imports {target} ({placed[target]})"
        for name, path in modules.items()
        for target, line, _ in imports(name, path)
        if target in placed and name in placed and placed[target] > placed[name]
    ]


def test_no_import_reaches_a_higher_layer():
    found = upward(layers(), MODULES)
    assert not found, "imports against the layers of docs/architecture.md:\n" + "\n".join(found)


def test_the_check_sees_an_upward_import(tmp_path):
    """The check itself: a strategy module importing the trainer, even inside a function, is reported."""
    fake = tmp_path / "fixed.py"
    fake.write_text("def f():\n    from ..trainer import TRAINERS\n")
    found = upward(layers(), {**MODULES, "alwa_yolo.weighting.fixed": fake})
    assert found == ["alwa_yolo.weighting.fixed:2 (2) imports alwa_yolo.trainer (7)"]


def test_module_level_imports_have_no_cycle():
    graph = {n: {t for t, _, top in imports(n, p) if top and t in MODULES and t != n} for n, p in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name, [])
            assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)
