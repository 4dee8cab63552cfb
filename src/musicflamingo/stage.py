"""What every stage entry point receives, and how a stage is run.

A stage is `run_<name>(cfg, ctx) -> dict`: it reads its inputs from
`ctx.root/data/<dep>/`, writes its outputs under `ctx.out`, and returns a
small summary that becomes `metrics/<name>.json`, Dagster metadata and, for
training stages, MLflow params. It never knows whether DVC, Dagster or a
test called it.

`cfg` is `declared_params(params, stage)`: the validated params.yaml in which
every key the stage does not declare in the registry raises on read. DVC
reruns a stage when a declared key changes, so an undeclared read would let a
stale output through; here it fails the first time it happens.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from musicflamingo import configs, registry
from musicflamingo.io import write_json

log = logging.getLogger("musicflamingo")


class StageFailed(RuntimeError):
    """A stage that ran but produced nothing usable (e.g. every LLM reply was unusable); its previous output stays."""


@dataclass
class StageContext:
    root: Path
    stage: registry.Stage
    dagster_run_id: str | None = None
    pipes: Any = None  # an open dagster_pipes context when launched by Dagster
    extras: dict = field(default_factory=dict)
    staging: Path | None = None  # where this run writes; swapped in as `final_out` only when the stage succeeds

    @property
    def final_out(self) -> Path:
        return self.root / self.stage.out

    @property
    def out(self) -> Path:
        return self.staging or self.final_out

    def published(self, path: Path) -> str:
        """Where `path` (inside `out`) will be once the stage succeeds, relative to the root.

        Records that name files the stage writes (a track's audio path) must name the final folder,
        not the staging folder the stage writes into."""
        return (Path(self.stage.out) / Path(path).relative_to(self.out)).as_posix()

    def input(self, stage_name: str) -> Path:
        if stage_name not in self.stage.deps:
            raise KeyError(f"{self.stage.name} does not declare {stage_name} as a dependency")
        return self.root / registry.get(stage_name).out

    @property
    def cache_dir(self) -> Path:
        """Per-item cache that outlives a DVC-cleaned out dir, so killed runs resume."""
        return self.root / ".cache" / self.stage.name

    def log(self, msg: str) -> None:
        log.info("[%s] %s", self.stage.name, msg)
        if self.pipes is not None:
            self.pipes.log.info(msg)


class UndeclaredParam(KeyError):
    """A stage read a params key it does not declare in the registry (so DVC would not rerun it on a change)."""


def _undeclared(stage: str, key: str):
    raise UndeclaredParam(f"stage {stage} reads params key {key!r}, which it does not declare: add it to its `params` in registry.py")


UNDECLARED = "mf_undeclared"
OmegaConf.register_resolver(UNDECLARED, _undeclared, replace=True)


def declared_params(cfg: DictConfig, stage: registry.Stage) -> DictConfig:
    """`cfg` as `stage` may see it: its declared keys (`stage.params`) as they are, every other key an
    interpolation that raises `UndeclaredParam` when read (attribute, item, `.get`, `OmegaConf.select`);
    read-only and in struct mode."""

    def view(node, path: str):
        if any(path == k or path.startswith(k + ".") for k in stage.params):
            return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        if isinstance(node, DictConfig) and any(k.startswith(path + ".") for k in stage.params):
            return {k: view(node[k], f"{path}.{k}") for k in node}
        return "${%s:%s,%s}" % (UNDECLARED, stage.name, path)

    view_cfg = OmegaConf.create({k: view(cfg[k], k) for k in cfg})
    OmegaConf.set_struct(view_cfg, True)
    OmegaConf.set_readonly(view_cfg, True)
    return view_cfg


def configure_logging() -> None:
    logging.basicConfig(level=os.environ.get("MF_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_stage(name: str, cfg: DictConfig, root: Path, pipes: Any = None) -> dict:
    """Run one stage in this process and write its metrics file.

    The whole config is validated first (`musicflamingo.configs`: bad values fail before any compute); the
    stage then gets `declared_params(cfg, stage)`."""
    stage = registry.get(name)
    configs.validate(cfg)
    cfg = declared_params(cfg, stage)
    ctx = StageContext(root=root.resolve(), stage=stage, dagster_run_id=os.environ.get("MF_DAGSTER_RUN_ID"), pipes=pipes)
    missing = [d for d in stage.deps if not (root / registry.get(d).out).exists()]
    if missing:
        raise FileNotFoundError(f"stage {name} needs {missing} first; run `musicflamingo run` or `dvc repro {name}`")
    # Outs are rebuilt whole (as DVC does; finished items come back from .cache), but aside: a stage that fails
    # leaves its previous output in place, and the new one replaces it only on success.
    # Under a multi-process launcher every rank runs the stage and shares one folder: it is rebuilt in place.
    final = ctx.final_out
    aside = int(os.environ.get("WORLD_SIZE", "1")) <= 1
    if aside:
        ctx.staging = final.with_name(f".{final.name}.next")
        if ctx.staging.exists():
            shutil.rmtree(ctx.staging)  # left by a run that was killed
        ctx.staging.mkdir(parents=True)
    else:
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        final.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        summary = stage.load_entry()(cfg, ctx) or {}
    except BaseException:
        if ctx.staging is not None:
            shutil.rmtree(ctx.staging, ignore_errors=True)
        raise
    if ctx.staging is not None:
        _swap_in(ctx.staging, final)
        ctx.staging = None
    summary = {"stage": name, "seconds": round(time.perf_counter() - t0, 2), **summary}
    write_json(root / stage.metrics_file, summary)
    ctx.log(f"done in {summary['seconds']} s -> {stage.out}")
    return summary


def _swap_in(new: Path, final: Path) -> None:
    """Replace `final` by `new` with two renames (the old folder is deleted only once the new one is in place)."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
