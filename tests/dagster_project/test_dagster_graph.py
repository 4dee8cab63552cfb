"""Snapshot of the Dagster graph: a change to assets, deps, checks or jobs shows up in review."""

import dagster as dg

SNAPSHOT = {
    "raw_audio": {"deps": [], "group": "data", "checks": ["tracks_are_decodable_and_unique"]},
    "mir_metadata": {"deps": ["raw_audio"], "group": "data", "checks": ["mir_facts_are_in_range"]},
    "mf_skills": {"deps": ["mir_metadata", "raw_audio"], "group": "data", "checks": ["qa_answers_are_among_options"]},
    "mf_think": {"deps": ["mf_skills", "mir_metadata"], "group": "data", "checks": ["think_samples_are_well_tagged"]},
    "backbone": {"deps": [], "group": "training", "checks": []},
    "sft": {"deps": ["backbone", "mf_skills"], "group": "training", "checks": []},
    "coldstart": {"deps": ["mf_skills", "mf_think", "sft"], "group": "training", "checks": []},
    "grpo": {"deps": ["coldstart", "mf_skills"], "group": "training", "checks": []},
    "eval": {"deps": ["backbone", "coldstart", "grpo", "mf_skills", "sft"], "group": "evaluation", "checks": []},
    "batch/raw_audio": {"deps": [], "group": "annotation", "checks": ["tracks_are_decodable_and_unique"]},
    "batch/mir_metadata": {"deps": ["batch/raw_audio"], "group": "annotation", "checks": ["mir_facts_are_in_range"]},
    "batch/mf_skills": {"deps": ["batch/mir_metadata", "batch/raw_audio"], "group": "annotation", "checks": ["qa_answers_are_among_options"]},
    "batch/mf_think": {"deps": ["batch/mf_skills", "batch/mir_metadata"], "group": "annotation", "checks": ["think_samples_are_well_tagged"]},
}
JOBS = {"pipeline", "data", "training", "evaluation", "retraining", "annotation"}
SENSORS = {"new_audio_sensor", "enough_new_tracks_sensor", "eval_after_training"}
SCHEDULES = {"weekly_retraining": "0 3 * * 1"}


def _graph():
    from dagster_project.definitions import defs

    return defs, defs.resolve_asset_graph()


def test_asset_graph_matches_snapshot():
    defs, graph = _graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
        }
    assert actual == SNAPSHOT


def test_every_asset_has_description_and_kinds_and_checks_block():
    defs, graph = _graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and node.kinds, key
    for check_key in graph.asset_check_keys:
        assert graph.get_check_spec(check_key).blocking, check_key


def test_jobs_exist_and_topological_order_starts_with_raw_audio():
    defs, graph = _graph()
    assert {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"} == JOBS
    assert {s.name for s in defs.sensors} == SENSORS
    assert {s.name: s.cron_schedule for s in defs.schedules} == SCHEDULES
    order = [k.to_user_string() for level in graph.toposorted_asset_keys_by_level for k in level]
    assert order.index("raw_audio") < order.index("mir_metadata") < order.index("mf_skills") < order.index("mf_think") < order.index("coldstart")
    assert order.index("backbone") < order.index("sft") < order.index("coldstart") < order.index("grpo") < order.index("eval")


def test_string_selection_parser_works_despite_hydra():
    """The antlr4 clash (STACK_NOTES) would make this raise TypeError."""
    defs, graph = _graph()
    sel = dg.AssetSelection.from_string("key:mf_skills+")
    assert dg.AssetKey("mf_think") in sel.resolve(graph)


def test_batch_assets_are_partitioned_and_project_assets_are_not():
    defs, graph = _graph()
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        if key.path[0] == "batch":
            assert partitions is not None and partitions.name == "audio_batches", key
        else:
            assert partitions is None, key


def test_concurrency_and_retries_are_declared():
    """At most one GPU job (run tag + pool), annotation in its own pool, retries with backoff."""
    defs, graph = _graph()
    jobs = {j.name: j for j in defs.resolve_all_job_defs()}
    for name in ("training", "retraining", "pipeline"):
        assert jobs[name].tags.get("mf/resource") == "gpu", name
    assert jobs["annotation"].tags.get("mf/resource") == "annotation"
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.pools == ({"gpu"} if node.group_name == "training" else {"annotation"} if node.group_name == "annotation" else set()), key
    assets = {k.to_user_string(): a for a in defs.assets for k in a.keys}
    policy = assets["batch/mir_metadata"].op.retry_policy
    assert policy.max_retries >= 2 and policy.backoff == dg.Backoff.EXPONENTIAL
