"""MCQs in the layout MMAU/MMAR are scored in: answered with the option text their string match reads."""

from __future__ import annotations

from musicflamingo.evaluation.benchmarks.base import BenchItem, render_prompt
from musicflamingo.evaluation.scoring import mmau_string_match
from musicflamingo.model import inputs as mi
from musicflamingo.train import data as td

OPTIONS = ["about 181 BPM", "about 136 BPM", "about 68 BPM", "about 102 BPM"]


def _record(i: int) -> dict:
    human = "<sound>\nWhat is the approximate tempo of this piece?\n" + "\n".join(
        f"({ch}) {o}" for ch, o in zip("ABCD", OPTIONS)) + "\nAnswer with the letter of the correct option."
    return {"id": f"t{i}-mcq0", "track_id": f"t{i}", "sound": "a.wav", "task": "mcq", "skill": "attribute", "options": OPTIONS,
            "answer": OPTIONS[1], "answer_letter": "B",
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": "(B) about 136 BPM"}]}


def test_variants_use_the_benchmark_layout_and_answer_with_the_option_text():
    records = [_record(i) for i in range(40)] + [{**_record(99), "task": "caption", "options": None}]
    out = td.option_text_variants(records, 0.5, seed=0)
    assert 8 < len(out) < 32 and all(r["task"] == "mcq_text" for r in out)
    r = out[0]
    item = BenchItem("mmau", r["id"], ["a.wav"], "What is the approximate tempo of this piece?", OPTIONS, OPTIONS[1], "mcq")
    assert mi.human_turn(r) == "<sound>\n" + render_prompt(item)
    assert "(A)" not in mi.human_turn(r) and mi.gpt_turn(r) == "about 136 BPM"
    # the official string match reads the option text; the lettered reply fails it ("b" is no answer token)
    assert mmau_string_match(OPTIONS[1], mi.gpt_turn(r), OPTIONS)
    assert not mmau_string_match(OPTIONS[1], "(B)", OPTIONS)
    assert td.option_text_variants(records, 0.0, seed=0) == []
    assert len(td.option_text_variants(records, 1.0, seed=0)) == 40
