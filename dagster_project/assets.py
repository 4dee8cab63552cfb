"""One asset per registry stage. Each asset brings its DVC stage up to date.

The asset runs `dvc repro --single-item <stage>` as a Dagster Pipes
subprocess: DVC decides whether anything changed (so an unchanged graph
recomputes nothing), records hashes in dvc.lock, and runs the stage's
`musicflamingo stage <name>` command, which reports its summary back to
Dagster through Pipes.

The data stages also exist per ingest batch (`batch/<stage>`, one dynamic
partition per batch, see `musicflamingo.inbox`): the same registry stage,
run by DVC inside `batches/<id>/` on that batch's new audio only.
"""


import sys
from pathlib import Path

import dagster as dg

from dagster_project.partitions import audio_batches
from dagster_project.resources import Operations, ProjectRoot
from musicflamingo import inbox, registry
from musicflamingo.io import read_json
from musicflamingo.tracking import dvc_md5


# Transient failures (a lock held too long, a flaky mount, a preempted node) get retried
# with exponential backoff; a deterministic failure fails again and stays visible.
DATA_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
TRAINING_RETRY = dg.RetryPolicy(max_retries=1, delay=60, backoff=dg.Backoff.EXPONENTIAL)


def _dvc_repro(context: dg.AssetExecutionContext, pipes, stage: registry.Stage, root: Path, batch_root: Path | None = None, ops: Operations | None = None) -> dg.MaterializeResult:
    """Bring one DVC stage up to date (the project's, or a batch's when `batch_root` is given)."""
    workdir = batch_root or root
    target = stage.name if batch_root is None else f"{batch_root.relative_to(root)}/dvc.yaml:{stage.name}"
    command = ["--wait-for-lock", "repro", "--single-item", target]
    env = {"MF_DAGSTER_RUN_ID": context.run_id, "MF_ROOT": str(workdir), "PYTHONUNBUFFERED": "1"}
    if ops is not None and ops.training_launcher == "k8s" and stage.group == "training":
        invocation = _run_on_kubernetes(context, ops, root, ["dvc", *command], env)
    else:
        dvc = str(Path(sys.executable).with_name("dvc"))
        invocation = pipes.run(command=[dvc, *command], context=context, cwd=str(root), env=env)
    # Pipes adds an empty implicit result when the process reported nothing (DVC skipped the stage);
    # a stage that ran reports its summary, which always names the stage.
    reported = [r for r in invocation.get_results() if isinstance(r, dg.MaterializeResult) and "stage" in (r.metadata or {})]
    md5, _ = dvc_md5(workdir, stage.out)
    metrics_file = workdir / stage.metrics_file
    metadata: dict = {
        "path": dg.MetadataValue.path(str(workdir / stage.out)),
        "dvc_md5": md5,
        "recomputed": bool(reported),
    }
    if not reported:
        context.log.info(f"{stage.name}: DVC says up to date (md5 {md5}); nothing recomputed")
        if metrics_file.exists():
            metadata.update({k: v for k, v in read_json(metrics_file).items() if isinstance(v, (int, float, str, bool))})
    else:
        metadata.update(reported[-1].metadata or {})
    if batch_root is None and stage.group == "training":
        # Training consumes every batch present at launch; say which, here and on the MLflow run.
        batches = inbox.ingested_batches(root)
        metadata["audio_batches"] = dg.MetadataValue.json(batches)
        if reported:
            _tag_mlflow_run(context, stage, batches)
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(md5))


def _tag_mlflow_run(context: dg.AssetExecutionContext, stage: registry.Stage, batches: list[str]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              filter_string=f"tags.`dagster.run_id` = '{context.run_id}' and tags.`mf.stage` = '{stage.name}'", max_results=1)
    for run in runs:
        client.set_tag(run.info.run_id, "mf.audio_batches", ",".join(batches) or "none")


def _run_on_kubernetes(context: dg.AssetExecutionContext, ops: Operations, root: Path, command: list[str], env: dict):
    """Launch the stage in a Kubernetes pod through Dagster Pipes (logs and metrics stream back).

    The image holds this project at /workspace (infra/docker/Dockerfile.cuda); the pod spec
    (GPUs, volumes, secrets) comes from `ops.k8s_job_template`. Multi-node training uses
    the Job template and Slurm script in infra/train/ instead.
    """
    if not ops.k8s_image:
        raise dg.Failure("training_launcher=k8s needs MF_K8S_IMAGE (an image built from infra/docker/Dockerfile.cuda)")
    import yaml
    from dagster_k8s import PipesK8sClient  # in the infra/docker images; not needed on a laptop

    pod_spec = yaml.safe_load((root / ops.k8s_job_template).read_text())
    return PipesK8sClient().run(context=context, image=ops.k8s_image, command=command, namespace=ops.k8s_namespace,
                                env={**env, "MF_ROOT": "/workspace"}, base_pod_spec=pod_spec,
                                pod_wait_timeout=2 * 24 * 3600)  # a GRPO run may take two days


def build_stage_asset(stage: registry.Stage) -> dg.AssetsDefinition:
    @dg.asset(
        name=stage.name,
        deps=[dg.AssetKey(d) for d in stage.deps],
        group_name=stage.group,
        description=stage.description,
        kinds=set(stage.kinds[:3]),
        code_version=stage.entry,
        metadata={"entry": stage.entry, "params": ", ".join(stage.params), "out": stage.out},
        retry_policy=TRAINING_RETRY if stage.group == "training" else DATA_RETRY,
        pool="gpu" if stage.group == "training" else None,
    )
    def _asset(context: dg.AssetExecutionContext, project: ProjectRoot, operations: Operations, pipes_subprocess_client: dg.PipesSubprocessClient) -> dg.MaterializeResult:
        return _dvc_repro(context, pipes_subprocess_client, stage, project.path, ops=operations)

    return _asset


def build_batch_asset(stage: registry.Stage) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["batch", stage.name]),
        deps=[dg.AssetKey(["batch", d]) for d in stage.deps],
        partitions_def=audio_batches,
        group_name="annotation",
        description=f"{stage.description} One ingest batch (partition) at a time.",
        kinds=set(stage.kinds[:3]),
        code_version=stage.entry,
        metadata={"entry": stage.entry, "params": ", ".join(stage.params), "out": f"batches/<batch>/{stage.out}"},
        retry_policy=DATA_RETRY,
        pool="annotation",
    )
    def _asset(context: dg.AssetExecutionContext, project: ProjectRoot, pipes_subprocess_client: dg.PipesSubprocessClient) -> dg.MaterializeResult:
        root, batch = project.path, context.partition_key
        if stage.name == "raw_audio":
            ledger = inbox.ingest(root, batch)
            context.log.info(f"batch {batch}: {len(ledger['files'])} files in audio_in/{batch}, {len(ledger['skipped'])} skipped")
            for s in ledger["skipped"]:
                context.log.warning(f"skipped {s['key']}: {s['reason']}")
        return _dvc_repro(context, pipes_subprocess_client, stage, root, batch_root=inbox.batches_dir(root) / batch)

    return _asset


stage_assets = [build_stage_asset(s) for s in registry.STAGES]
batch_assets = [build_batch_asset(s) for s in registry.BATCH_STAGES]
