"""The single Dagster `Definitions` of the project."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets import stage_assets
from dagster_project.checks import dataset_checks
from dagster_project.resources import default_root

# Built from AssetSelection objects (not strings): robust to the antlr4 clash.
pipeline_job = dg.define_asset_job("pipeline", selection=dg.AssetSelection.all(), description="Every stage, in dependency order, with its checks.")
data_job = dg.define_asset_job("data", selection=dg.AssetSelection.groups("data"))
training_job = dg.define_asset_job("training", selection=dg.AssetSelection.groups("training"))
eval_job = dg.define_asset_job("evaluation", selection=dg.AssetSelection.groups("evaluation"))

defs = dg.Definitions(
    assets=stage_assets,
    asset_checks=dataset_checks,
    jobs=[pipeline_job, data_job, training_job, eval_job],
    resources={"project": default_root(), "pipes_subprocess_client": dg.PipesSubprocessClient()},
    # One step at a time: stages share 2 cores and one DVC lock; MIR parallelises inside its step.
    executor=dg.in_process_executor,
)
