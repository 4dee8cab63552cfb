"""A failing Great Expectations check stops the downstream stage."""

import json

import dagster as dg

from dagster_project.checks import dataset_checks
from dagster_project.resources import ProjectRoot


def test_failing_mir_check_blocks_downstream(tmp_path):
    folder = tmp_path / "data" / "mir_metadata"
    folder.mkdir(parents=True)
    bad = {"track_id": "a", "tempo_bpm": 999.0, "key": "A minor", "time_signature": "4/4", "tempo_confidence": 0.5, "beats": [0.0, 0.5]}
    (folder / "tracks.jsonl").write_text(json.dumps(bad) + "\n")

    @dg.asset(name="mir_metadata")
    def mir_metadata() -> None: ...

    @dg.asset(name="mf_skills", deps=[mir_metadata])
    def mf_skills() -> None: ...

    checks = [c for c in dataset_checks if any(k.asset_key == dg.AssetKey("mir_metadata") for k in c.check_keys)]
    result = dg.materialize([mir_metadata, mf_skills, *checks], resources={"project": ProjectRoot(root=str(tmp_path))}, raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    failing = evaluation.metadata["failing_expectations"].value
    assert failing[0]["column"] == "tempo_bpm" and 999.0 in failing[0]["unexpected"]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"mir_metadata"}
