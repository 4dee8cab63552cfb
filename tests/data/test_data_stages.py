"""mf_skills and mf_think with the built-in writer on a synthetic corpus that has every MIR-contract field."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from musicflamingo.data import builtin_writer as bw
from musicflamingo.data import factcheck as fc
from musicflamingo.data import theory as th
from musicflamingo.testing.synthetic import synthetic_track
from musicflamingo.data.think_stage import hardness, rewrite_step, verify_steps
from musicflamingo.io import read_json, read_jsonl
from tests.llm.test_llm_openai import _corpus


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage

    root = tmp_path_factory.mktemp("skills")
    _corpus(root, n=8)
    cfg = compose(["skills.min_heldout_tracks=2"])
    return root, run_stage("mf_skills", cfg, root), run_stage("mf_think", cfg, root)


def test_skills_cover_five_families_with_mcq_and_open_questions(built):
    root, summary, _ = built
    rows = read_jsonl(root / "data/mf_skills/train.jsonl") + read_jsonl(root / "data/mf_skills/heldout.jsonl")
    tasks = defaultdict(set)
    qtypes = defaultdict(set)
    for r in rows:
        tasks[r["skill"]].add(r["task"])
        qtypes[r["skill"]].add(r.get("qtype"))
        assert r["fact_ids"], r["id"]
        if r["task"] == "mcq":
            assert len(set(r["options"])) == 4 and r["options"]["ABCD".index(r["answer_letter"])] == r["answer"]
    for skill in bw.SKILLS:
        assert tasks[skill] == {"mcq", "open"}, (skill, tasks[skill])
        assert len(qtypes[skill]) >= 2, (skill, qtypes[skill])
    assert summary["mean_caption_words"] >= 250 and summary["dropped_by_factcheck"] == 0
    assert len(read_jsonl(root / "data/mf_skills/segments.jsonl")) >= 8


def test_cards_reports_and_structured_truth_are_written(built):
    root, _, _ = built
    for name in ("mf_skills", "mf_think"):
        out = root / "data" / name
        card = (out / "README.md").read_text()
        assert "Drop reasons" in card and "Factuality" in card
        assert {p.name for p in (out / "plots").glob("*.png")} == {"words_per_caption.png", "items_per_skill.png", "factuality.png", "drop_reasons.png"}
        assert read_json(out / "factcheck_report.json")
    truth = read_jsonl(root / "data/mf_skills/structured.jsonl")[0]["truth"]
    assert truth["Structure"] and " - " in truth["Structure"] and truth["Dynamics"].endswith("LUFS") and truth["Mix Notes"].endswith("dynamic range")
    from musicflamingo.data.structured import structured_truth

    bare = structured_truth({"tempo_bpm": 100.0, "key": "C major", "time_signature": "unknown"}, {})
    assert [c for c, v in bare.items() if v is not None] == ["BPM", "Key"]  # unknown stays unknown


def test_great_expectations_suites_pass_on_both_datasets(built):
    from musicflamingo import expectations

    root, _, _ = built
    for name in ("mf_skills", "mf_think"):
        out = expectations.validate_folder(name, root / "data" / name)
        assert out.success, out.failures


def test_think_selects_hard_items_and_stores_every_step_verdict(built):
    root, _, think = built
    samples = read_jsonl(root / "data/mf_think/train.jsonl")
    assert think["hard_candidates"] > 0 and samples
    reasons = {r for s in samples for r in s["hard_because"]}
    assert {"tools disagree on tempo", "multi-hop question"} <= reasons or {"tools disagree on key", "multi-hop question"} <= reasons
    for s in samples:
        assert s["step_verdicts"] and all(v["outcome"] in ("kept", "rewritten") for v in s["step_verdicts"])


def test_minor_errors_are_rewritten_and_bad_chains_dropped():
    facts, tags = synthetic_track(3)
    fx = fc.FactIndex.build(facts, tags)
    wrong_tempo = f"The beats give {facts['tempo_bpm'] * 2:.0f} BPM."
    fixed = rewrite_step(wrong_tempo, fc.check_text(wrong_tempo, fx), facts)
    assert fixed and not fc.contradicted(fc.check_text(fixed, fx))
    other = "A saxophone plays."
    assert rewrite_step(other, fc.check_text(other, fx), facts) is None  # an invented instrument is not a minor error
    released, rows, n_bad = verify_steps([wrong_tempo, other, "So the answer follows."], fx, facts, fc.Tolerances())
    assert n_bad == 2 and [r["outcome"] for r in rows] == ["rewritten", "removed", "kept"] and len(released) == 2


def test_hardness_reasons():
    facts, _ = synthetic_track(5)
    assert "tools disagree on tempo" in hardness({"fact_ids": ["tempo_bpm"]}, facts)
    assert hardness({"fact_ids": ["chords"], "qtype": "cadence"}, facts) == ["multi-hop question"]
    calm = {**facts, "per_tool": {}, "tempo_alternatives": [], "tempo_confidence": 0.9}
    assert hardness({"fact_ids": ["tempo_bpm"], "qtype": "tempo"}, calm) == []


def test_writer_is_deterministic_varied_and_theory_grounded():
    facts, tags = synthetic_track(7)
    a = bw.caption(facts, tags, random.Random("x"))
    assert a == bw.caption(facts, tags, random.Random("x"))
    assert len({bw.caption(facts, tags, random.Random(s)) for s in range(6)}) >= 4
    key = facts["key"]
    numerals = [th.roman(c, key) for c in th.merged(th.chords_of(facts))[:4]]
    assert " - ".join(numerals) in a and "cadence" in a


def test_roman_numerals_and_cadences():
    chords = [th.Chord(0, 1, "D:7", "D7", 2, "7"), th.Chord(1, 2, "G:maj", "G", 7, "maj"), th.Chord(2, 3, "C:maj", "C", 0, "maj"),
              th.Chord(3, 4, "G:maj", "G", 7, "maj"), th.Chord(4, 5, "A:min", "Am", 9, "min")]
    assert [th.roman(c, "G major") for c in chords] == ["V7", "I", "IV", "I", "ii"]
    assert [c.kind for c in th.cadences(chords, "G major")] == ["authentic", "plagal"]
    assert th.secondary_dominant(th.Chord(0, 1, "A:7", "A7", 9, "7"), "G major") == "V7/V"
    assert th.relation("G major", "D major") == "the dominant" and th.relation("C major", "A minor") == "the relative minor"


def test_bad_fact_rows_become_quarantine_rows_not_crashes(tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.io import write_jsonl
    from musicflamingo.stage import run_stage

    _corpus(tmp_path, n=3)
    facts = read_jsonl(tmp_path / "data/mir_metadata/tracks.jsonl")
    del facts[0]["duration_s"]                                    # a malformed row (decoding always gives a duration)
    del facts[2]["key"]                                           # an absent fact is normal: written without key claims
    facts.append({**facts[1], "track_id": "f" * 64})              # facts for a track raw_audio does not know
    write_jsonl(tmp_path / "data/mir_metadata/tracks.jsonl", facts)
    summary = run_stage("mf_skills", compose([]), tmp_path)
    quarantine = read_jsonl(tmp_path / "data/mf_skills/quarantine.jsonl")
    reasons = [q["reason"] for q in quarantine]
    assert "no raw_audio row for this track" in reasons
    assert any(r.startswith("caption: KeyError") for r in reasons) and any(r.startswith("qa: KeyError") for r in reasons)
    assert not [q for q in quarantine if q.get("track_id") == facts[2]["track_id"] and "Error" in q["reason"]]
    rows = read_jsonl(tmp_path / "data/mf_skills/train.jsonl") + read_jsonl(tmp_path / "data/mf_skills/heldout.jsonl")
    assert any(r["track_id"] == facts[2]["track_id"] and r["task"] == "caption" for r in rows)
    assert summary["train_items"] + summary["heldout_items"] > 0   # the good tracks still come through
