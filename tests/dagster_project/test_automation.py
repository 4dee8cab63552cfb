"""The schedule and sensors evaluate as intended, on a tmp project root (no daemon needed)."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest

from musicflamingo import inbox
from musicflamingo.io import write_json


@pytest.fixture
def defs(tmp_path):
    from dagster_project.definitions import build_definitions
    from dagster_project.resources import Operations, ProjectRoot

    return build_definitions(ProjectRoot(root=str(tmp_path)), Operations(inbox_uri="inbox", settle_s=0.5, retrain_min_new_tracks=5))


def _annotated(root: Path, batch: str, tracks: int) -> None:
    """What an annotated batch leaves behind: its claim and its MIR summary."""
    write_json(root / "batches" / batch / "manifest.json", {"batch": batch, "source": "inbox", "items": [], "fingerprints": [batch]})
    write_json(root / "batches" / batch / "metrics" / "mir_metadata.json", {"stage": "mir_metadata", "tracks": tracks})


def test_weekly_schedule_requests_a_retraining_run(defs):
    schedule = defs.resolve_schedule_def("weekly_retraining")
    assert schedule.job_name == "retraining" and schedule.execution_timezone == "UTC"
    monday = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=monday) as ctx:
        requests = schedule.evaluate_tick(ctx).run_requests
    assert len(requests) == 1 and requests[0].tags["mf/trigger"] == "weekly"
    assert schedule.cron_schedule == "0 3 * * 1"


def test_enough_new_tracks_sensor_fires_at_threshold_then_waits_again(defs, tmp_path):
    sensor = defs.resolve_sensor_def("enough_new_tracks_sensor")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=cursor) as ctx:
            return sensor(ctx), ctx.cursor

    _annotated(tmp_path, "b1", 3)
    result, cursor = tick(None)
    assert isinstance(result, dg.SkipReason) and "3 new" in result.skip_message
    _annotated(tmp_path, "b2", 4)
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["mf/new_tracks"] == "7" and cursor == "7"
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason) and "0 new" in result.skip_message


def test_new_audio_sensor_waits_for_files_to_settle_and_registers_one_batch(defs, tmp_path, tone):
    sensor = defs.resolve_sensor_def("new_audio_sensor")
    instance = dg.DagsterInstance.ephemeral()
    (tmp_path / "inbox").mkdir()
    wav = tone("x.wav", 2.0)
    landed = tmp_path / "inbox" / "x.wav"
    landed.write_bytes(wav.read_bytes())
    (tmp_path / "inbox" / "README.md").write_text("inbox")

    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        assert isinstance(sensor(ctx), dg.SkipReason)  # modified < settle_s ago: maybe still uploading
    import os
    import time

    os.utime(landed, (time.time() - 5, time.time() - 5))
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        result = sensor(ctx)
    (batch,) = [r.partition_key for r in result.run_requests]
    assert result.dynamic_partitions_requests[0].partition_keys == [batch]
    manifest = json.loads((tmp_path / "batches" / batch / "manifest.json").read_text())
    assert [i["key"] for i in manifest["items"]] == ["x.wav"]
    assert (tmp_path / "batches" / batch / "dvc.yaml").read_text().count("musicflamingo stage") == 4
    # A claim whose partition never reached Dagster (a tick that died) is registered next time.
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        again = sensor(ctx)
    assert [r.partition_key for r in again.run_requests] == [batch]
    instance.add_dynamic_partitions("audio_batches", [batch])
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        assert isinstance(sensor(ctx), dg.SkipReason)
    assert inbox.claimed_batches(tmp_path) == [batch]


def test_eval_follows_every_training_run(defs):
    sensor = defs.resolve_sensor_def("eval_after_training")
    assert [t.job_name for t in sensor.targets] == ["evaluation"]

    @dg.op
    def noop():
        return 1

    instance = dg.DagsterInstance.ephemeral()
    result = dg.GraphDefinition(name="training", node_defs=[noop]).to_job().execute_in_process(instance=instance)
    event = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS][0]
    ctx = dg.build_run_status_sensor_context(sensor_name="eval_after_training", dagster_instance=instance, dagster_run=result.dagster_run, dagster_event=event)
    request = sensor(ctx)
    assert isinstance(request, dg.RunRequest) and request.tags["mf/trained_by"] == result.run_id


def test_training_runs_are_tagged_with_the_batches_they_saw(tmp_path, monkeypatch):
    """`_tag_mlflow_run` finds the stage's MLflow run by Dagster run id and records the batches."""
    from types import SimpleNamespace

    import mlflow
    from mlflow.tracking import MlflowClient

    from dagster_project.assets import _tag_mlflow_run
    from musicflamingo import registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    mine = client.create_run(exp, tags={"dagster.run_id": "run-1", "mf.stage": "sft"}).info.run_id
    other = client.create_run(exp, tags={"dagster.run_id": "run-2", "mf.stage": "sft"}).info.run_id
    _tag_mlflow_run(SimpleNamespace(run_id="run-1"), registry.get("sft"), ["b1", "b2"])
    assert client.get_run(mine).data.tags["mf.audio_batches"] == "b1,b2"
    assert "mf.audio_batches" not in client.get_run(other).data.tags
    assert mlflow.get_tracking_uri() == uri
