"""The package's import graph, read statically from the source (no module is imported).

`closure("musicflamingo.train.stages")` is every module of `musicflamingo` that
importing it can execute: its `import` / `from ... import` statements anywhere
in the file (including the lazy ones inside functions), followed transitively,
plus each imported module's parent packages (`__init__.py` runs first). The
stage registry turns a stage's closure into its DVC code deps, so `dvc.yaml`
lists exactly the files whose change can change the stage's output.

Package data read at run time is named in `RESOURCES` (module -> folders or files), since
no import statement points at it.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = "musicflamingo"
SRC = Path(__file__).resolve().parent
"""src/musicflamingo: the folder the module names below are relative to."""

RESOURCES: dict[str, tuple[str, ...]] = {
    "musicflamingo.llm.prompts": ("prompts",),  # jinja2.PackageLoader("musicflamingo", "prompts")
    "musicflamingo.data.card": ("data/real_accuracy.json",),  # card.ACCURACY_JSON, read beside the module
}


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((PACKAGE, *parts))] = path
    return out


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a (possibly relative) `from ... import`."""
    if not node.level:
        return node.module or ""
    is_package = modules()[module].name == "__init__.py"
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


@lru_cache(maxsize=None)
def imports(module: str) -> frozenset[str]:
    """Modules of the package that `module` imports directly (anywhere in its file), with their parent packages."""
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(known[module].read_text(encoding="utf-8"), str(known[module]))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            names = [base] + [f"{base}.{a.name}" for a in node.names]  # `from pkg import submodule`
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in known)
    found.discard(module)
    return frozenset(found)


def closure(*roots: str) -> frozenset[str]:
    """`roots` and every package module they import, transitively."""
    known = modules()
    missing = [r for r in roots if r not in known]
    if missing:
        raise KeyError(f"not modules of {PACKAGE}: {missing}")
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports(m) - seen)
    return frozenset(seen)


def files(mods: frozenset[str] | set[str]) -> list[str]:
    """Source files (and package-data folders of `RESOURCES`) of `mods`, relative to `src/musicflamingo`, sorted."""
    known = modules()
    out = {known[m].relative_to(SRC).as_posix() for m in mods}
    out.update(folder for m in mods for folder in RESOURCES.get(m, ()))
    return sorted(out)
