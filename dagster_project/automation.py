"""When things run: new audio is annotated batch by batch, retraining is weekly or on enough new
tracks, and evaluation follows every training run. Turn them on in the UI (Automation) or
with `dagster sensor start` / `dagster schedule start`; the daemon (`make ui`) ticks them."""

import time

import dagster as dg

from dagster_project.jobs import annotation_job, evaluation_job, retraining_job, training_job
from dagster_project.partitions import audio_batches
from dagster_project.resources import Operations, ProjectRoot
from musicflamingo import inbox


@dg.sensor(job=annotation_job, minimum_interval_seconds=30, description="Claims new audio in the landing zone as an ingest batch and annotates that batch only.")
def new_audio_sensor(context: dg.SensorEvaluationContext, project: ProjectRoot, operations: Operations):
    root = project.path
    t0 = time.perf_counter()
    new = inbox.claim_new_batch(root, operations.inbox_uri, operations.batch_max_files, operations.settle_s)
    # Every claimed batch becomes a partition, including one claimed by a tick that died
    # before Dagster stored its partition: the manifests on disk are the source of truth.
    registered = set(context.instance.get_dynamic_partitions(audio_batches.name))
    pending = [b for b in inbox.claimed_batches(root) if b not in registered]
    if not pending:
        return dg.SkipReason(f"no new audio in {operations.inbox_uri} ({time.perf_counter() - t0:.2f} s)")
    context.log.info(f"new batches {pending} (claimed this tick: {new}) in {time.perf_counter() - t0:.2f} s")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=b, partition_key=b, tags={"mf/batch": b}) for b in pending],
        dynamic_partitions_requests=[audio_batches.build_add_request(pending)],
    )


@dg.sensor(job=retraining_job, minimum_interval_seconds=300, description="Retrains once enough newly annotated tracks have landed since the last request.")
def enough_new_tracks_sensor(context: dg.SensorEvaluationContext, project: ProjectRoot, operations: Operations):
    total = sum(inbox.annotated_tracks(project.path).values())
    last = int(context.cursor or 0)
    new = total - last
    if new < operations.retrain_min_new_tracks:
        return dg.SkipReason(f"{new} new annotated tracks since the last retraining; waiting for {operations.retrain_min_new_tracks}")
    context.update_cursor(str(total))
    return dg.RunRequest(run_key=f"tracks-{total}", tags={"mf/trigger": "new-tracks", "mf/new_tracks": str(new)})


weekly_retraining = dg.ScheduleDefinition(
    name="weekly_retraining",
    job=retraining_job,
    cron_schedule="0 3 * * 1",  # Mondays 03:00
    execution_timezone="UTC",
    tags={"mf/trigger": "weekly"},
    description="Rebuilds the datasets from every batch present and retrains, weekly.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[training_job, retraining_job],
    request_job=evaluation_job,
    description="Every successful training run is followed by an evaluation run.",
)
def eval_after_training(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=context.dagster_run.run_id, tags={"mf/trained_by": context.dagster_run.run_id})


sensors = [new_audio_sensor, enough_new_tracks_sensor, eval_after_training]
schedules = [weekly_retraining]
