import pandas as pd

from musicflamingo import expectations


def _mir_frame(**changes):
    row = {"track_id": "a", "tempo_bpm": 120.0, "key": "A minor", "time_signature": "3/4", "tempo_confidence": 0.9, "beats_sorted": True}
    row.update(changes)
    return pd.DataFrame([row, {**row, "track_id": "b"}])


def test_good_mir_facts_pass():
    assert expectations.validate("mir_metadata", _mir_frame()).success


def test_out_of_range_tempo_and_unknown_key_fail_with_the_expectation_named():
    out = expectations.validate("mir_metadata", _mir_frame(tempo_bpm=400.0, key="H major"))
    assert not out.success
    failed = {(f["expectation"], f["column"]) for f in out.failures}
    assert ("expect_column_values_to_be_between", "tempo_bpm") in failed
    assert ("expect_column_values_to_be_in_set", "key") in failed


def test_think_suite_catches_bad_tags(tmp_path):
    import json

    good = {"id": "1", "conversations": [{"from": "human", "value": "<sound>\nq"}, {"from": "gpt", "value": "<think>Step 1: x</think><answer>(A) y</answer>"}], "answer_letter": "A", "answer": "y"}
    bad = {**good, "id": "2", "conversations": [good["conversations"][0], {"from": "gpt", "value": "<think>x<answer>(A) y</answer>"}]}
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in (good, bad)))
    out = expectations.validate_folder("mf_think", tmp_path)
    assert not out.success and any(f["column"] == "well_tagged" for f in out.failures)
