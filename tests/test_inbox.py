"""Incremental annotation: new audio in the inbox becomes one batch (a dynamic partition);
exactly the new files are annotated, by DVC inside `batches/<id>/`, and a rerun does no work."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import soundfile as sf
import yaml

from musicflamingo import dvcgen, env, inbox, registry
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory, smoke_cfg):
    from musicflamingo.config import write_params

    root = tmp_path_factory.mktemp("inbox_project")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    (root / "audio_in").mkdir()
    dvcgen.write(root)
    write_params(smoke_cfg, root)
    mp = pytest.MonkeyPatch()
    for key, value in env.defaults(root).items():
        mp.setenv(key, value)
    subprocess.run([str(Path(sys.executable).with_name("dvc")), "init", "--no-scm", "-q"], cwd=root, check=True)
    yield root
    mp.undo()


def _defs(root: Path):
    from dagster_project.definitions import build_definitions
    from dagster_project.resources import Operations, ProjectRoot

    return build_definitions(ProjectRoot(root=str(root)), Operations(inbox_uri="inbox", settle_s=0.0))


def _tick(defs, instance):
    """One sensor tick, with its partition requests applied as the daemon would."""
    sensor = defs.resolve_sensor_def("new_audio_sensor")
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        result = sensor(ctx)
    if isinstance(result, dg.SkipReason):
        return result
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def _slices(chorale, folder: Path, names: list[str], offset: float) -> dict[str, str]:
    """Distinct short excerpts of the rendered chorale (different content, real music)."""
    from musicflamingo.io import sha256_file

    audio, sr = sf.read(chorale[0])
    folder.mkdir(parents=True, exist_ok=True)
    shas = {}
    for i, name in enumerate(names):
        start = int((offset + 3 * i) * sr)
        path = folder / name
        sf.write(path, audio[start : start + 6 * sr], sr)
        shas[name] = sha256_file(path)
    return shas


def test_three_new_files_are_annotated_exactly_once(project, chorale):
    root = project
    defs = _defs(root)
    instance = dg.DagsterInstance.ephemeral()

    # An earlier batch, already claimed and ingested: its audio must not be annotated again.
    old = _slices(chorale, root / "inbox", ["old.wav"], offset=0.0)
    first = _tick(defs, instance)
    assert len(first.run_requests) == 1
    old_batch = first.run_requests[0].partition_key
    inbox.ingest(root, old_batch)

    new = _slices(chorale, root / "inbox" / "drop", ["a.wav", "b.flac", "c.wav"], offset=4.0)
    (root / "inbox" / "drop" / "upload.wav.part").write_bytes(b"still uploading")
    tick = _tick(defs, instance)
    assert [r.partition_key for r in tick.run_requests] == [k for k in instance.get_dynamic_partitions("audio_batches") if k != old_batch]
    batch = tick.run_requests[0].partition_key
    manifest = json.loads((root / "batches" / batch / "manifest.json").read_text())
    assert sorted(i["key"] for i in manifest["items"]) == ["drop/a.wav", "drop/b.flac", "drop/c.wav"]

    job = defs.resolve_job_def("annotation")
    result = job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    annotated = [json.loads(l)["track_id"] for l in (root / "batches" / batch / "data/mir_metadata/tracks.jsonl").read_text().splitlines()]
    assert sorted(annotated) == sorted(new.values())
    assert old["old.wav"] not in annotated
    skills = [json.loads(l) for f in ("train.jsonl", "heldout.jsonl") for l in (root / "batches" / batch / "data/mf_skills" / f).read_text().splitlines()]
    assert {r["track_id"] for r in skills} <= set(new.values()) and skills
    # DVC versions the batch: its own lock with every stage, the outs' hashes recorded.
    lock = yaml.safe_load((root / "batches" / batch / "dvc.lock").read_text())["stages"]
    assert set(lock) == {s.name for s in registry.BATCH_STAGES}

    # A rerun: the sensor finds nothing new and re-materializing the batch recomputes nothing.
    assert isinstance(_tick(defs, instance), dg.SkipReason)
    again = job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)
    assert again.success
    recomputed = [e.asset_key.to_user_string() for e in again.get_asset_materialization_events() if e.materialization.metadata["recomputed"].value]
    assert recomputed == []
    status = subprocess.run([str(Path(sys.executable).with_name("dvc")), "status", f"batches/{batch}/dvc.yaml"], cwd=root, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout.lower(), status.stdout


def test_duplicate_content_is_skipped_with_a_reason(project, chorale):
    root = project
    _slices(chorale, root / "inbox" / "again", ["copy_of_a.wav"], offset=4.0)
    batch = inbox.claim_new_batch(root, "inbox", settle_s=0.0)
    ledger = inbox.ingest(root, batch)
    assert ledger["files"] == [] and ledger["skipped"][0]["reason"].startswith("same content as a track of batch")


def test_project_datasets_take_every_batch_and_reuse_its_annotations(project, smoke_cfg):
    """The project-level stages (what training reads) see every ingested batch, and find the
    batches' MIR facts in the shared per-track cache instead of annotating them again."""
    from omegaconf import OmegaConf

    from musicflamingo.stage import run_stage

    root = project
    batches = inbox.ingested_batches(root)
    batch_tracks = {sha for b in batches for sha in json.loads((root / "audio_in" / b / ".batch.json").read_text())["sha256"]}
    assert len(batches) == 3 and len(batch_tracks) == 4  # old (1) + new (3) + the duplicate-only batch (0)
    facts_cache = root / ".cache" / "mir_metadata" / "facts"
    annotated_by_batches = {p: p.stat().st_mtime_ns for p in facts_cache.rglob("*.json") if p.name.split("-")[0] in batch_tracks}
    assert len(annotated_by_batches) == 3  # the old batch was ingested but never annotated

    cfg = OmegaConf.merge(smoke_cfg, {"data": {"demo": {"enabled": False}}})
    assert run_stage("raw_audio", cfg, root)["input_tracks"] == 4
    summary = run_stage("mir_metadata", cfg, root)
    assert summary["tracks"] == 4
    assert {p: p.stat().st_mtime_ns for p in annotated_by_batches} == annotated_by_batches  # cache hits, not recomputed
