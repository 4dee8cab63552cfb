"""MLflow lineage for training and eval stages.

Training runs also log system metrics (CPU, memory, GPU where present).
Every run records: the DVC md5 of each input (`mlflow.log_input` with the
md5 in the dataset digest and tags), the git commit, the Dagster run id and
the resolved config. Runs are nested under one parent run per Dagster run
(or per `musicflamingo run`), and models are registered as `music-flamingo`
with one alias per stage.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import yaml
from omegaconf import DictConfig, OmegaConf

from musicflamingo import registry
from musicflamingo.io import folder_fingerprint
from musicflamingo.stage import StageContext

MODEL_NAME = "music-flamingo"
TRAINING_STAGES = ("backbone", "sft", "coldstart", "grpo")


def experiment_name(cfg: DictConfig) -> str:
    return f"music-flamingo/{cfg.get('experiment', 'default')}"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        sha = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def dvc_md5(root: Path, out: str) -> tuple[str, str]:
    """(md5, source) of an out folder: from dvc.lock when DVC recorded it, else computed; a folder that was
    never built (an input the run does not read, e.g. `sft` for an eval of the backbone only) gets DVC's hash
    of an empty folder with source "absent"."""
    lock = root / "dvc.lock"
    if lock.exists():
        doc = yaml.safe_load(lock.read_text()) or {}
        for stage in (doc.get("stages") or {}).values():
            for o in stage.get("outs", []):
                if o.get("path") == out and o.get("md5"):
                    return o["md5"], "dvc.lock"
    if not (root / out).is_dir():
        return EMPTY_DIR_MD5, "absent"
    return folder_fingerprint(root / out), "computed"


EMPTY_DIR_MD5 = "d751713988987e9331980363e24189ce.dir"  # md5 of "[]": DVC's hash of a folder with no files


def _parent_run_id(client, experiment_id: str, dagster_run_id: str | None) -> str | None:
    """One parent run per Dagster run; stage runs nest under it."""
    if not dagster_run_id:
        return None
    found = client.search_runs([experiment_id], filter_string=f"tags.`dagster.run_id` = '{dagster_run_id}' and tags.`mf.kind` = 'pipeline'", max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"pipeline-{dagster_run_id[:8]}", tags={"dagster.run_id": dagster_run_id, "mf.kind": "pipeline"})
    client.set_terminated(run.info.run_id)  # a container for lineage, not a running process
    return run.info.run_id


@contextmanager
def stage_run(ctx: StageContext, cfg: DictConfig) -> Iterator["object"]:
    """Open the MLflow run of a stage with full lineage logged up front."""
    import mlflow
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.tracking import MlflowClient

    if not is_rank_zero():
        # Under a multi-GPU launcher every rank runs the stage: only rank 0 reports to the
        # real tracking server; the others log into a throwaway store of their own.
        scratch = ctx.cache_dir / f"mlruns-rank{os.environ['RANK']}"
        mlflow.set_tracking_uri(scratch.as_uri())
        with mlflow.start_run(run_name=ctx.stage.name) as run:
            yield run
        return
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment_name(cfg))
    if exp is None:
        # With a SQLite backend MLflow would put artifacts in ./mlruns of whatever the cwd is.
        location = os.environ.get("MLFLOW_ARTIFACTS_DESTINATION") or (ctx.root / "mlartifacts").as_uri()
        client.create_experiment(experiment_name(cfg), artifact_location=location)
        exp = client.get_experiment_by_name(experiment_name(cfg))
    mlflow.set_experiment(experiment_id=exp.experiment_id)
    parent = _parent_run_id(client, exp.experiment_id, ctx.dagster_run_id)
    tags = {
        "mf.stage": ctx.stage.name,
        "mf.kind": "stage",
        "git.commit": git_commit(ctx.root),
        "dagster.run_id": ctx.dagster_run_id or "none",
    }
    if parent:
        tags["mlflow.parentRunId"] = parent
    # CPU/memory (and GPU, where present) sampled by MLflow's system-metrics thread (psutil).
    system_metrics = ctx.stage.name in TRAINING_STAGES
    if system_metrics:
        mlflow.set_system_metrics_sampling_interval(float(os.environ.get("MF_SYSTEM_METRICS_INTERVAL_S", "5")))
    with mlflow.start_run(run_name=ctx.stage.name, tags=tags, log_system_metrics=system_metrics) as run:
        for dep in ctx.stage.deps:
            out = registry.get(dep).out
            md5, source = dvc_md5(ctx.root, out)
            ds = MetaDataset(source=_dvc_source_class()(out), name=dep, digest=md5.replace(".dir", "")[:36])
            mlflow.log_input(ds, context=ctx.stage.name, tags={"dvc.md5": md5, "dvc.path": out, "dvc.md5_source": source})
            mlflow.set_tag(f"input.{dep}.dvc_md5", md5)
        declared = OmegaConf.create({})
        for key in ctx.stage.params:  # the stage sees only these (stage.declared_params)
            OmegaConf.update(declared, key, OmegaConf.select(cfg, key), merge=False)
        mlflow.log_text(OmegaConf.to_yaml(declared, resolve=True), "config/resolved_params.yaml")
        mlflow.log_params({f"mf.{k}": v for k, v in _flat_params(cfg, ctx.stage.params).items()})
        yield run


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _flat_params(cfg: DictConfig, keys: tuple[str, ...]) -> dict:
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            flat[prefix] = str(value)[:500]

    for key in keys:
        value = OmegaConf.select(cfg, key)
        walk(key, OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value)
    return dict(list(flat.items())[:90])


@lru_cache(maxsize=None)
def _dvc_source_class():
    """An MLflow DatasetSource naming a DVC-tracked folder (built lazily: mlflow imports are slow)."""
    from mlflow.data.filesystem_dataset_source import FileSystemDatasetSource

    class DvcOut(FileSystemDatasetSource):
        def __init__(self, uri: str):
            self._uri = uri

        @property
        def uri(self):
            return self._uri

        @staticmethod
        def _get_source_type() -> str:
            return "dvc"

        def load(self, dst_path=None):
            return self._uri

        @staticmethod
        def _can_resolve(raw_source) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source):
            return cls(str(raw_source))

        def to_dict(self):
            return {"uri": self._uri}

        @classmethod
        def from_dict(cls, source_dict):
            return cls(source_dict["uri"])

    return DvcOut


def register(run_id: str, model_dir: Path, alias: str, root: Path) -> str:
    """Register the model folder logged in `run_id` as a new `music-flamingo` version with `alias`."""
    import mlflow
    from mlflow.tracking import MlflowClient

    if not is_rank_zero():
        return ""  # rank 0 registers the one model
    mlflow.log_artifacts(str(model_dir), artifact_path="model")
    client = MlflowClient()
    try:
        client.create_registered_model(MODEL_NAME, description="Music Flamingo pipeline checkpoints; one alias per training stage.")
    except mlflow.exceptions.MlflowException:
        pass  # already there
    # The same hash DVC will record for this out: lineage finds a model's producer by it.
    client.set_tag(run_id, "output.dvc_md5", folder_fingerprint(Path(model_dir)))
    run = client.get_run(run_id)
    mv = client.create_model_version(MODEL_NAME, source=f"{run.info.artifact_uri}/model", run_id=run_id, tags={k: v for k, v in run.data.tags.items() if k.startswith(("input.", "output.", "git.", "dagster.", "mf."))})
    client.set_registered_model_alias(MODEL_NAME, alias, mv.version)
    return str(mv.version)

