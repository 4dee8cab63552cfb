"""The single Dagster `Definitions` of the project."""

import dagster as dg

from dagster_project.assets import batch_assets, stage_assets
from dagster_project.automation import schedules, sensors
from dagster_project.checks import batch_checks, dataset_checks
from dagster_project.jobs import data_job, evaluation_job, jobs, pipeline_job, training_job  # noqa: F401 (re-exported)
from dagster_project.resources import default_root, operations_from_env


def build_definitions(project: dg.ConfigurableResource | None = None, operations: dg.ConfigurableResource | None = None) -> dg.Definitions:
    """The project's Definitions; tests pass a tmp project root and their own operations settings."""
    return dg.Definitions(
        assets=[*stage_assets, *batch_assets],
        asset_checks=[*dataset_checks, *batch_checks],
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources={
            "project": project or default_root(),
            "operations": operations or operations_from_env(),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
        # One step at a time per run: stages share 2 cores and one DVC lock; MIR parallelises
        # inside its step. At scale, runs (not steps) are the unit of parallelism.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
