"""The architecture diagram names exactly the modules that exist.

Granularity: the diagram source (docs/images/architecture.dot) names, as quoted Graphviz node ids,
every subpackage and every top-level module of ``sim_arena_gym`` (``sim_arena_gym.trace``,
``sim_arena_gym.quantity``, ...; not the package root, not modules inside subpackages) and the
top-level package ``agents``. A quoted id that looks like a module but names none fails, and so
does a subpackage or top-level module that the diagram leaves out. ``make diagram`` renders it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "docs" / "images" / "architecture.dot"
MODULE_ID = re.compile(r'"((?:sim_arena_gym(?:\.[A-Za-z_][\w.]*)?)|agents(?:\.[A-Za-z_][\w.]*)?)"')


def diagram_modules(text: str) -> set[str]:
    """The quoted node ids of ``text`` that name a module (``sim_arena_gym...`` or ``agents...``)."""
    return set(MODULE_ID.findall(text))


def existing_modules() -> set[str]:
    """``agents`` and the subpackages and top-level modules of ``sim_arena_gym``."""
    root = REPO / "sim_arena_gym"
    names = {"agents"}
    names |= {f"sim_arena_gym.{p.name}" for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    names |= {f"sim_arena_gym.{p.stem}" for p in root.glob("*.py") if p.stem != "__init__"}
    return names


def test_diagram_names_every_module_and_only_those() -> None:
    named = diagram_modules(SOURCE.read_text(encoding="utf-8"))
    present = existing_modules()
    assert sorted(named - present) == [], "the diagram names modules that do not exist"
    assert sorted(present - named) == [], "modules missing from docs/images/architecture.dot"


def test_the_check_sees_a_missing_and_a_stale_module() -> None:
    text = SOURCE.read_text(encoding="utf-8").replace('"sim_arena_gym.ops"', '"sim_arena_gym.operations"')
    named = diagram_modules(text)
    present = existing_modules()
    assert named - present == {"sim_arena_gym.operations"}
    assert present - named == {"sim_arena_gym.ops"}


def test_the_rendered_images_are_committed_beside_the_source() -> None:
    assert (SOURCE.with_suffix(".png")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in SOURCE.with_suffix(".svg").read_bytes()[:2000]
