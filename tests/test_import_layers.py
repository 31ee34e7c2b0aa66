"""The import layering of ``docs/ARCHITECTURE.md`` holds in the code: imports only go downward
(quantity -> trace -> sim -> backends -> scenarios -> env -> agents, learning, testing, integrations,
ops, live -> cli) and no two modules import each other, directly or through others.

Every ``import`` statement counts, also those inside functions (a local import only hides a cycle);
imports under ``if TYPE_CHECKING:`` are annotations and never run, so they do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (REPO / "sim_arena_gym", REPO / "agents")

#: Layer rank by module prefix (longest prefix wins); a module may import its own rank or below.
LAYERS: dict[str, int] = {
    "sim_arena_gym.quantity": 0,
    "sim_arena_gym.limits": 0,  # named work bounds (issue 9): usable by every layer
    "sim_arena_gym.optioncheck": 0,  # OptionError and the option checks: usable by every layer
    "sim_arena_gym.trace": 1,
    "sim_arena_gym.sim": 2,
    "sim_arena_gym.backends": 3,
    "sim_arena_gym.scenarios": 4,
    "sim_arena_gym.env": 5,
    "agents": 6,
    "sim_arena_gym.learning": 6,
    "sim_arena_gym.testing": 6,  # the fake cluster: serves what the backends talk to
    "sim_arena_gym.integrations": 6,
    "sim_arena_gym.ops": 6,  # cluster tools (preflight, clean) on the simkube backend
    "sim_arena_gym.live": 6,  # the live cluster: the env served over the fake cluster's API server
    "sim_arena_gym.cli": 7,
}
#: The package root only registers the envs (its env classes load on first use). Python runs it
#: before any submodule, so importing it is allowed from anywhere, and it is not checked itself.
ROOT = "sim_arena_gym"


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, name: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported project module) for every import that runs, resolved to modules in ``known``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_stmt(stmt)
                continue
            visit_stmt(child)

    def visit_stmt(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    out.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    out.append((node.lineno, sub))
                elif target in known:
                    out.append((node.lineno, target))
        visit(node)

    visit(tree)
    return out


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _graph() -> dict[str, list[tuple[int, str]]]:
    modules = _modules()
    known = set(modules) - {ROOT}
    return {name: _imports(path, name, known) for name, path in modules.items() if name != ROOT}


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        if module != ROOT:
            _layer(module)  # raises ValueError (max of nothing) for a module outside every layer


def test_imports_only_go_down() -> None:
    upward = []
    for module, imports in _graph().items():
        for line, target in imports:
            if _layer(target) > _layer(module):
                upward.append(f"{module}:{line} imports {target}")
    assert upward == []


def test_no_import_cycles() -> None:
    graph = {m: sorted({t for _, t in imports if t != m}) for m, imports in _graph().items()}
    # A package's __init__ may re-export its own submodules; a submodule importing the package
    # itself would be a cycle, and is reported like any other.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, ()):
            if t.startswith(m + "."):
                continue  # a package importing its own submodule: the normal re-export
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert cycles == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from sim_arena_gym.env.state import StateView\n", ["sim_arena_gym.env.state"]),
        ("def f():\n    from sim_arena_gym.env import state\n", ["sim_arena_gym.env.state"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sim_arena_gym.env.state\n", []),
    ],
)
def test_the_checker_sees_what_runs(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(text, encoding="utf-8")
    found = [t for _, t in _imports(path, "sim_arena_gym.sim.probe", set(_modules()))]
    assert found == expected
