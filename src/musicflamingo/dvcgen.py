"""Generate `dvc.yaml` from the stage registry (never edit it by hand)."""

from __future__ import annotations

from pathlib import Path

import yaml

from musicflamingo import registry
from musicflamingo.registry import PKG

HEADER = "# Generated from src/musicflamingo/registry.py by `musicflamingo dvc-yaml`. Do not edit.\n"


def stage_entry(stage: registry.Stage) -> dict:
    deps = list(stage.code)
    deps += [registry.get(d).out for d in stage.deps]
    deps += list(stage.extra_deps)
    entry: dict = {"cmd": f"musicflamingo stage {stage.name}", "deps": deps, "params": list(stage.params)}
    entry["outs"] = [stage.out, *stage.extra_outs]
    entry["metrics"] = [{stage.metrics_file: {"cache": False}}] + [{m: {"cache": False}} for m in stage.metrics]
    return entry


def render() -> str:
    doc = {"stages": {s.name: stage_entry(s) for s in registry.STAGES}}
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=120)


BATCH_HEADER = "# Generated from src/musicflamingo/registry.py when the batch was claimed (musicflamingo.inbox). Do not edit.\n"
BATCHES_DIR = "batches"
"""Per ingest batch: `batches/<id>/` holds a dvc.yaml (below), its dvc.lock and data/<stage>/."""


def batch_entry(stage: registry.Stage, batch_id: str) -> dict:
    """The registry stage, run inside `batches/<id>/` on that batch's audio only.

    Paths are relative to the batch folder (DVC's wdir); `params.yaml` and `.cache/` there
    are links to the project's, so a batch is annotated with the same config and shares the
    per-track caches that make the union (`data/<stage>/`) cheap to rebuild.
    """
    up = "../../"
    entry = stage_entry(stage)
    entry["deps"] = [up + d if d.startswith(f"{PKG}/") else d for d in entry["deps"] if d not in stage.extra_deps]
    if stage.name == "raw_audio":
        inbox = f"{up}audio_in/{batch_id}"
        entry["deps"].append(inbox)
        entry["cmd"] += f" data.demo.enabled=false data.input_dir={inbox}"
    return entry


def render_batch(batch_id: str) -> str:
    doc = {"stages": {s.name: batch_entry(s, batch_id) for s in registry.BATCH_STAGES}}
    return BATCH_HEADER + yaml.safe_dump(doc, sort_keys=False, width=120)


def write(root: Path) -> Path:
    path = root / "dvc.yaml"
    path.write_text(render(), encoding="utf-8")
    return path
