"""Generate `dvc.yaml` from the stage registry (never edit it by hand)."""

from __future__ import annotations

from pathlib import Path

import yaml

from musicflamingo import registry
from musicflamingo.registry import COMMON_CODE, PKG

HEADER = "# Generated from src/musicflamingo/registry.py by `musicflamingo dvc-yaml`. Do not edit.\n"


def stage_entry(stage: registry.Stage) -> dict:
    deps = [f"{PKG}/{c}" for c in (*COMMON_CODE, *stage.code)]
    deps += [registry.get(d).out for d in stage.deps]
    deps += list(stage.extra_deps)
    entry: dict = {"cmd": f"musicflamingo stage {stage.name}", "deps": deps, "params": list(stage.params)}
    entry["outs"] = [stage.out, *stage.extra_outs]
    entry["metrics"] = [{stage.metrics_file: {"cache": False}}] + [{m: {"cache": False}} for m in stage.metrics]
    return entry


def render() -> str:
    doc = {"stages": {s.name: stage_entry(s) for s in registry.STAGES}}
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=120)


def write(root: Path) -> Path:
    path = root / "dvc.yaml"
    path.write_text(render(), encoding="utf-8")
    return path
