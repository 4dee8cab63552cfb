"""One asset per registry stage. Each asset brings its DVC stage up to date.

The asset runs `dvc repro --single-item <stage>` as a Dagster Pipes
subprocess: DVC decides whether anything changed (so an unchanged graph
recomputes nothing), records hashes in dvc.lock, and runs the stage's
`musicflamingo stage <name>` command, which reports its summary back to
Dagster through Pipes.
"""


import sys
from pathlib import Path

import dagster as dg

from dagster_project.resources import ProjectRoot
from musicflamingo import registry
from musicflamingo.io import read_json
from musicflamingo.tracking import dvc_md5


def _dvc_repro(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient, stage: registry.Stage, root: Path) -> dg.MaterializeResult:
    dvc = str(Path(sys.executable).with_name("dvc"))
    invocation = pipes.run(
        command=[dvc, "--wait-for-lock", "repro", "--single-item", stage.name],
        context=context,
        cwd=str(root),
        env={"MF_DAGSTER_RUN_ID": context.run_id, "MF_ROOT": str(root), "PYTHONUNBUFFERED": "1"},
    )
    # Pipes adds an empty implicit result when the process reported nothing (DVC skipped the stage);
    # a stage that ran reports its summary, which always names the stage.
    reported = [r for r in invocation.get_results() if isinstance(r, dg.MaterializeResult) and "stage" in (r.metadata or {})]
    md5, _ = dvc_md5(root, stage.out)
    metrics_file = root / stage.metrics_file
    metadata: dict = {
        "path": dg.MetadataValue.path(str(root / stage.out)),
        "dvc_md5": md5,
        "recomputed": bool(reported),
    }
    if not reported:
        context.log.info(f"{stage.name}: DVC says up to date (md5 {md5}); nothing recomputed")
        if metrics_file.exists():
            metadata.update({k: v for k, v in read_json(metrics_file).items() if isinstance(v, (int, float, str, bool))})
    else:
        metadata.update(reported[-1].metadata or {})
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(md5))


def build_stage_asset(stage: registry.Stage) -> dg.AssetsDefinition:
    @dg.asset(
        name=stage.name,
        deps=[dg.AssetKey(d) for d in stage.deps],
        group_name=stage.group,
        description=stage.description,
        kinds=set(stage.kinds[:3]),
        code_version=stage.entry,
        metadata={"entry": stage.entry, "params": ", ".join(stage.params), "out": stage.out},
        retry_policy=None,
    )
    def _asset(context: dg.AssetExecutionContext, project: ProjectRoot, pipes_subprocess_client: dg.PipesSubprocessClient) -> dg.MaterializeResult:
        return _dvc_repro(context, pipes_subprocess_client, stage, project.path)

    return _asset


stage_assets = [build_stage_asset(s) for s in registry.STAGES]
