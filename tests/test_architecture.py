"""The layout of docs/architecture.md, read from the sources with ast: no import circle, imports only downward.

Every ``import`` and ``from ... import`` statement of every module of ``meanfield`` and ``exact`` is an edge
(those inside functions included: a lazy import is still a dependency).  ``from pkg import name`` is an edge
to the module ``pkg.name`` when that is a module, else to ``pkg``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("meanfield", "exact")
MAX_LINES = 650  # "no module over ~600 lines"

# docs/architecture.md, "Direction of imports": a module may import its own layer or a lower one
LAYERS = {
    "core": 1,
    "meanfield.simulate": 2,
    "meanfield.spectra": 3,
    "meanfield.init": 4,
    "meanfield.resnet": 5,
    "meanfield": 6,  # the facade
    "meanfield.plotting": 6,
    "meanfield.cli": 6,
    "meanfield.cli_support": 6,
    "meanfield.cli_spectra": 6,
    "meanfield.cli_beyond": 6,
    "meanfield.__main__": 6,
    "exact": 7,
    "exact.cli": 8,
    "exact.__main__": 8,
}


def _module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _module_files()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for every import statement of ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module != "__future__":
                target = _resolve(module, child)
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in MODULES else target, in_function))
            visit(child, nested)

    visit(tree, False)
    return [(name, lazy) for name, lazy in found if name.split(".")[0] in PACKAGES]


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> int:
    """The layer of a module: its own entry, else its sub-package's, else the core's (exact: its package's)."""
    if module in LAYERS:
        return LAYERS[module]
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if prefix not in ("core", "meanfield") and module.startswith(prefix + "."):
            return LAYERS[prefix]
    return LAYERS["core"]


def test_the_layout_is_the_documented_one():
    for sub in ("spectra", "simulate", "init"):
        assert _is_package(f"meanfield.{sub}"), sub
    for name in ("freeprob", "derivative_law", "spectrum", "isometry"):
        assert f"meanfield.spectra.{name}" in MODULES
    for name in ("networks", "jacobians", "comparison"):
        assert f"meanfield.simulate.{name}" in MODULES
    for name in ("fans", "scaling", "isometric", "parameter_sharing", "assessment"):
        assert f"meanfield.init.{name}" in MODULES
    text = (ROOT / "docs" / "architecture.md").read_text()
    for module in MODULES:
        leaf = module.split(".")[-1]
        if leaf not in ("meanfield", "exact", "__main__"):
            assert f"{leaf}.py" in text or f"{leaf}/" in text, f"{module} is missing from docs/architecture.md"


def test_no_import_circle():
    edges = {m: sorted({t for t, _ in GRAPH[m] if t != m}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for t in edges[m]:
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2

    for m in MODULES:
        if m not in state:
            dfs(m)


def test_imports_run_downward():
    wrong = []
    for module, imports in GRAPH.items():
        for target, lazy in imports:
            if target == "meanfield.plotting" and lazy:
                continue  # .plot methods import the figures lazily
            if target.endswith((".cli", ".cli_support")) and module not in (
                "meanfield.__main__", "exact.__main__", "exact.cli", "meanfield.cli", "meanfield.cli_spectra",
                "meanfield.cli_beyond",
            ):
                wrong.append(f"{module} imports {target}: only the command lines import cli")
            elif _layer(target) > _layer(module):
                wrong.append(f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})")
    assert not wrong, "\n".join(wrong)


def test_meanfield_never_imports_exact():
    for module, imports in GRAPH.items():
        if module.startswith("meanfield"):
            assert not [t for t, _ in imports if t.startswith("exact")], module


def test_no_module_is_too_long():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_packages_cite_only_what_ships():
    """Docstrings and comments point to docs/conventions.md or papers, never to files users do not have."""
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in MODULES.values()
        for i, line in enumerate(path.read_text().splitlines(), start=1)
        if "DESIGN.md" in line or "notes/" in line
    ]
    assert not offenders, offenders
    assert (ROOT / "docs" / "conventions.md").is_file()
