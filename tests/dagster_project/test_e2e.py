"""End to end: the whole graph materialized through Dagster on the smoke corpus.

Runs in a throw-away project root with its own DVC repo, Dagster instance
and MLflow store, exactly as `make run` does in the checkout.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from musicflamingo import dvcgen, env, registry
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def _defs(root: Path):
    from dagster_project.definitions import build_definitions
    from dagster_project.resources import Operations, ProjectRoot

    return build_definitions(ProjectRoot(root=str(root)), Operations())


@pytest.fixture(scope="module")
def project(tmp_path_factory, smoke_cfg):
    from musicflamingo.config import write_params

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    inbox = root / "audio_in"
    inbox.mkdir()
    (inbox / "README.md").write_text("inbox\n")
    (inbox / "empty.wav").write_bytes(b"")
    (inbox / "notes.wav").write_text("a text file pretending to be audio\n" * 20)
    import numpy as np
    import soundfile as sf

    ogg = inbox / "cut.ogg"
    sf.write(ogg, (0.3 * np.sin(np.arange(22050 * 5) * 0.05)).astype("float32"), 22050, format="OGG")
    ogg.write_bytes(ogg.read_bytes()[: ogg.stat().st_size // 2])
    dvcgen.write(root)
    write_params(smoke_cfg, root)
    mp = pytest.MonkeyPatch()
    for key, value in env.defaults(root).items():
        mp.setenv(key, value)
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", (root / "mlartifacts").as_uri())
    # Share DeepSpeed's JIT op build with the checkout: it costs ~80 s the first time.
    mp.setenv("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
    subprocess.run([str(Path(sys.executable).with_name("dvc")), "init", "--no-scm", "-q"], cwd=root, check=True)
    first = _defs(root).resolve_job_def("pipeline").execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    yield root, first
    mp.undo()


def test_all_nine_assets_materialize_and_checks_pass(project):
    root, result = project
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {s.name for s in registry.STAGES}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert len(checks) == 4 and all(checks.values()), checks


def test_bad_inputs_become_quarantine_rows_with_reasons(project):
    root, _ = project
    rows = [json.loads(l) for l in (root / "data/raw_audio/quarantine.jsonl").read_text().splitlines()]
    by_path = {r["path"]: r["reason"] for r in rows}
    assert by_path["audio_in/empty.wav"].startswith("empty file")
    assert by_path["audio_in/notes.wav"].startswith("not audio")
    assert by_path["audio_in/cut.ogg"].startswith("truncated")
    assert "audio_in/README.md" not in by_path


def test_dvc_lock_holds_every_stage(project):
    root, _ = project
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(lock["stages"]) == {s.name for s in registry.STAGES}


def test_mlflow_runs_carry_lineage_and_models_are_registered(project):
    from mlflow.tracking import MlflowClient

    root, result = project
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    out_md5 = {o["path"]: o["md5"] for st in lock.values() for o in st.get("outs", [])}
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}", registry_uri=f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], filter_string="tags.`mf.kind` = 'stage'")
    by_stage = {r.data.tags["mf.stage"]: r for r in runs}
    assert {"sft", "coldstart", "grpo", "eval"} <= set(by_stage)
    for name, run in by_stage.items():
        assert run.data.tags["dagster.run_id"] == result.run_id
        assert run.data.tags["git.commit"]
        inputs = {d.dataset.name: {t.key: t.value for t in d.tags} for d in run.inputs.dataset_inputs}
        assert set(inputs) == set(registry.get(name).deps)
        for dep, tags in inputs.items():
            assert tags["dvc.md5"] == out_md5[registry.get(dep).out], (name, dep)
    versions = client.search_model_versions("name='music-flamingo'")
    trained = [s for s in by_stage if registry.get(s).produces == "model"]
    assert len(versions) == len(trained)
    aliases = client.get_registered_model("music-flamingo").aliases
    assert {"backbone", "sft", "coldstart", "grpo"} <= set(aliases)


def test_second_run_recomputes_nothing(project):
    root, _ = project
    again = _defs(root).resolve_job_def("pipeline").execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert again.success
    status = subprocess.run([str(Path(sys.executable).with_name("dvc")), "status"], cwd=root, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout.lower(), status.stdout
    recomputed = [e.asset_key.to_user_string() for e in again.get_asset_materialization_events() if e.materialization.metadata["recomputed"].value]
    assert recomputed == []


def test_no_heldout_track_reaches_any_training_stage(project):
    """Held-out tracks (by content hash) appear in no training input: audio, captions, QA or think samples."""
    root, _ = project

    def rows(path):
        return [json.loads(l) for l in (root / path).read_text().splitlines() if l.strip()]

    heldout = rows("data/mf_skills/heldout.jsonl")
    held_tracks = {r["track_id"] for r in heldout}
    held_audio = {r["sound"] for r in heldout}
    assert held_tracks, "the smoke corpus must hold out at least one track"
    training_inputs = rows("data/mf_skills/train.jsonl") + rows("data/mf_think/train.jsonl")
    assert training_inputs
    assert not held_tracks & {r["track_id"] for r in training_inputs}
    assert not held_audio & {r["sound"] for r in training_inputs}
    truth = rows("data/mf_skills/structured.jsonl")
    assert {t["track_id"] for t in truth if t["split"] == "heldout"} == held_tracks


def test_eval_report_has_every_checkpoint_next_to_chance(project):
    root, _ = project
    metrics = json.loads((root / "reports/eval.json").read_text())
    demo = metrics["demo_mcq"]["accuracy"]
    assert {"backbone", "sft", "coldstart", "grpo", "chance"} <= set(demo)
    assert (root / "reports/eval.png").exists() and "paper: Music Flamingo" in (root / "reports/eval.md").read_text()


def test_lineage_matches_dvc_lock_and_finds_the_model_from_a_track(project):
    from musicflamingo import lineage

    root, _ = project
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    out_md5 = {o["path"]: o["md5"] for st in lock.values() for o in st.get("outs", [])}
    report = lineage.model_report(root, "music-flamingo", "grpo", list_tracks=True)
    stages = [n["stage"] for n in report["chain"]]
    assert stages == ["grpo", "coldstart", "sft", "backbone"]
    for node in report["chain"]:
        assert node["output_dvc_md5"] == out_md5[registry.get(node["stage"]).out]
        for dep, md5 in node["inputs_dvc_md5"].items():
            assert md5 == out_md5[registry.get(dep).out]
    train_tracks = {json.loads(l)["track_id"] for l in (root / "data/mf_skills/train.jsonl").read_text().splitlines()}
    assert report["track_count"] == len(train_tracks) and set(report["tracks"]) == train_tracks
    some = sorted(train_tracks)[0]
    found = lineage.track_report(root, some)
    assert {"sft", "coldstart", "grpo"} <= {a for m in found["model_versions"] for a in m["aliases"]}
    held = json.loads((root / "data/mf_skills/heldout.jsonl").read_text().splitlines()[0])["track_id"]
    assert lineage.track_report(root, held)["model_versions"] == []
