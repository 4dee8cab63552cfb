"""Issue 14's adversarial check: a false-statement corpus the checker was not written against, and a lying LLM server.

The generator (`musicflamingo.testing.adversarial`) shares no code or
sentence frames with the built-in writer; the lying server answers every
writer prompt in valid JSON with true content plus one planted lie. The
whole `mf_skills` and `mf_think` stages run against it; no planted lie may
reach a released row.
"""

from __future__ import annotations

import ast
import inspect
import json
import random

from musicflamingo.data import factcheck as fc
from musicflamingo.testing.synthetic import synthetic_track
from musicflamingo.io import read_jsonl
from musicflamingo.testing import adversarial, lying_server
from musicflamingo.testing.corpus import write_corpus

ISSUE_KINDS = {"instrument_singular", "instrument_plural", "instrument_synonym", "instrument_outside_gm", "number_words", "relative",
               "negation", "hedge", "split", "modulation"}


def test_generator_is_independent_and_covers_the_issue_kinds():
    tree = ast.parse(inspect.getsource(adversarial))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("musicflamingo")}, imported  # nothing from the writer or the checker
    kinds = set()
    for seed in range(30):
        facts, tags = synthetic_track(seed)
        kinds |= {s.kind for s in adversarial.statements(facts, tags, random.Random(seed)) if not s.true}
    assert ISSUE_KINDS <= kinds


def test_no_false_statement_of_the_corpus_is_released():
    released, total = [], 0
    for seed in range(40):
        facts, tags = synthetic_track(seed)
        fx = fc.FactIndex.build(facts, tags)
        for st in adversarial.statements(facts, tags, random.Random(seed)):
            kept, withheld = fc.release(st.text, fx)
            if st.true:
                assert not withheld, st.text
            else:
                total += 1
                if fc.sentences(st.text)[-1] in kept:
                    released.append(st.text)
    assert total > 800 and released == []


def test_prompt_facts_round_trip():
    from musicflamingo.llm.prompts import render
    from musicflamingo.data.writers import facts_prompt_values

    facts, tags = synthetic_track(4)
    back, back_tags = lying_server.facts_from_prompt(render("caption.jinja", target_words=100, **facts_prompt_values(facts, tags)))
    assert back["key"] == facts["key"] and abs(back["tempo_bpm"] - facts["tempo_bpm"]) < 0.1 and back_tags["instruments"] == tags["instruments"]
    assert back["vocals"] == facts["vocals"] and len(back["section_keys"]) == len(facts["section_keys"])


def test_stages_against_the_lying_server_release_no_planted_lie(tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage

    write_corpus(tmp_path, 4)
    with lying_server.LyingServer(max_seconds=120) as srv:
        cfg = compose(["llm=openai", f"llm.base_url={srv.url}", "llm.model=liar", "llm.concurrency=2", "skills.min_heldout_tracks=1",
                       "think.fraction=1.0"])
        skills = run_stage("mf_skills", cfg, tmp_path)
        think = run_stage("mf_think", cfg, tmp_path)
    rows = [r for p in ("mf_skills/train.jsonl", "mf_skills/heldout.jsonl", "mf_think/train.jsonl") for r in read_jsonl(tmp_path / "data" / p)]
    blob = "\n".join(json.dumps(r) for r in rows)
    assert len(srv.planted) >= 12 and skills["train_items"] + skills["heldout_items"] > 0 and think["samples"] > 0
    assert [text for _, text in srv.planted if json.dumps(text)[1:-1] in blob] == []
    assert skills["writer_errors"] == 0 and skills["dropped_by_factcheck"] > 0
