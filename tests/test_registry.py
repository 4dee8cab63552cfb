from musicflamingo import dvcgen, registry

EXPECTED_ORDER = ["raw_audio", "mir_metadata", "mf_skills", "mf_think", "backbone", "sft", "coldstart", "grpo", "eval"]


def test_nine_stages_in_pipeline_order():
    assert [s.name for s in registry.STAGES] == EXPECTED_ORDER


def test_every_entry_point_resolves_to_run_function():
    for s in registry.STAGES:
        fn = s.load_entry()
        assert fn.__name__ == f"run_{s.name}", s.entry


def test_deps_are_declared_earlier_and_outs_follow_the_name():
    seen = set()
    for s in registry.STAGES:
        assert set(s.deps) <= seen
        assert s.out.endswith("/" + s.name)
        seen.add(s.name)


def test_committed_dvc_yaml_matches_registry():
    from tests.conftest import REPO

    assert (REPO / "dvc.yaml").read_text() == dvcgen.render(), "run `musicflamingo dvc-yaml`"


def test_unknown_stage_error_lists_the_stages():
    import pytest

    with pytest.raises(KeyError, match="raw_audio"):
        registry.get("nope")
