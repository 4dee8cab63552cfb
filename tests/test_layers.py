"""No module imports from a layer above it: the architecture, checked from the import graph.

A static AST walk over `src/musicflamingo` and `dagster_project` (every `import` and `from ... import`,
top-level or inside a function, so lazy imports count too). Each module belongs to a room; each room to
a layer; an import may only go to the same layer or one below. `LAYERS` lists the rooms, lowest first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import from its own layer and the layers before it.
LAYERS: list[tuple[str, ...]] = [
    # foundation: files, environment, vocabularies, formats shared by every stage
    ("io", "env", "espeak", "whisper_weights", "pitch", "think_answer", "schemas", "prompts", "imports"),
    # the stage contract: config, registry, the stage runner, tracking and lineage
    ("configs", "config", "registry", "stage", "dvcgen", "tracking", "lineage", "inbox"),
    ("audio", "speech"),
    ("mir",),
    ("llm",),
    ("data", "expectations"),
    ("model",),
    ("train",),
    ("evaluation",),
    ("testing",),  # harnesses for tests and benchmarks: may use everything in the library
    ("dagster_project",),  # drives the stages; the library never imports it
    ("cli", "ui", "__main__"),  # entry points
]
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "dagster_project":
        return "dagster_project"
    if parts[0] != "musicflamingo":
        return None
    return parts[1] if len(parts) > 1 else None  # the package's __init__ re-exports nothing upward


def _modules() -> dict[str, Path]:
    out = {}
    for base, pkg in ((ROOT / "src", "musicflamingo"), (ROOT, "dagster_project")):
        for path in sorted((base / pkg).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from musicflamingo import data` names the room in the alias, not in the module.
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def import_edges() -> list[tuple[str, str]]:
    """(importer, imported) module pairs inside the project, from the source text."""
    return [(mod, imp) for mod, path in _modules().items() for imp in sorted(_imports(path)) if _room(imp)]


def upward_imports(edges) -> list[str]:
    bad = []
    for mod, imp in edges:
        a, b = _room(mod), _room(imp)
        if a is None or b is None or a == b:
            continue
        if a not in LAYER_OF or b not in LAYER_OF:
            bad.append(f"{mod} imports {imp}: room {a if a not in LAYER_OF else b!r} has no layer")
        elif LAYER_OF[b] > LAYER_OF[a]:
            bad.append(f"{mod} imports {imp} ({a}, layer {LAYER_OF[a]} -> {b}, layer {LAYER_OF[b]})")
    return bad


def test_every_room_has_a_layer():
    rooms = {_room(m) for m in _modules()} - {None}
    assert rooms - set(LAYER_OF) == set(), "add the new room to LAYERS in tests/test_layers.py"


def test_no_module_imports_from_a_layer_above_it():
    edges = import_edges()
    assert len(edges) > 300  # the walk sees the real graph
    assert upward_imports(edges) == []


@pytest.mark.parametrize("edge, upward", [
    (("musicflamingo.llm.writers", "musicflamingo.data.known"), True),  # the old llm/writers.py
    (("musicflamingo.model.stage", "musicflamingo.train.sft"), True),  # the old model/stage.py
    (("musicflamingo.registry", "dagster_project.definitions"), True),  # what the old orchestrate.py did
    (("musicflamingo.orchestrate", "musicflamingo.registry"), True),  # a module outside every room
    (("musicflamingo.data.writers", "musicflamingo.llm.base"), False),
    (("dagster_project.assets", "musicflamingo.registry"), False),
])
def test_the_check_catches_the_old_violations(edge, upward):
    assert bool(upward_imports([edge])) is upward
