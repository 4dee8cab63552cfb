"""Figures of the stage contract: lines per stage entry function, and each stage's code and params deps.

    python benchmarks/stage_contract.py

Prints, per registry stage, the length of its entry function (def line to last line, from the AST),
the number of source files in its import closure (its DVC code deps) and its declared params keys;
then the longest entry function.
"""

from __future__ import annotations

import ast

from musicflamingo import imports, registry


def entry_lines(stage: registry.Stage) -> int:
    path = imports.modules()[stage.entry_module]
    name = stage.entry.split(":")[1]
    node = next(n for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return node.end_lineno - node.lineno + 1


def main() -> None:
    rows = [(s.name, s.entry, entry_lines(s), len(s.code), ", ".join(s.params)) for s in registry.STAGES]
    print(f"{'stage':14s} {'entry':48s} {'lines':>5s} {'code deps':>9s}  params")
    for name, entry, lines, code, params in rows:
        print(f"{name:14s} {entry:48s} {lines:5d} {code:9d}  {params}")
    name, entry, lines, *_ = max(rows, key=lambda r: r[2])
    print(f"longest entry function: {entry} ({lines} lines)")


if __name__ == "__main__":
    main()
