"""One think/answer rule: the MF-Think gate, the data expectation and the GRPO format reward agree."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicflamingo import expectations
from musicflamingo import think_answer as ta
from musicflamingo.train.rewards import format_reward

CASES = [
    ("<think>Step 1: the bass outlines D.</think><answer>(B) D minor</answer>", True),
    ("  <think>a</think>\n<answer>B</answer>\n", True),
    ("<think> </think><answer>x</answer>", False),  # passed the old MF-Think gate, scored 0 on the reward
    ("<think>x</think><answer>\n</answer>", False),
    ("<think>x</think><answer>B</answer></think>", False),  # a stray tag after the answer
    ("<think>x</think><answer>B </think></answer>", False),  # a tag inside the answer (old gate: passed)
    ("<think>x<think>y</think><answer>B</answer>", False),
    ("<answer>B</answer><think>x</think>", False),
    ("<think>x</think>so<answer>B</answer>", False),
    ("<THINK>x</THINK><ANSWER>B</ANSWER>", False),  # the tags are atomic tokens: exact case
    ("", False),
]


def _think_suite_accepts(tmp_path, reply: str) -> bool:
    row = {"id": "1", "answer_letter": "B", "answer": "x",
           "conversations": [{"from": "human", "value": "<sound>\nq"}, {"from": "gpt", "value": reply}]}
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    return bool(expectations.think_frame(tmp_path)["well_tagged"].iloc[0])


@pytest.mark.parametrize("text, ok", CASES)
def test_gate_reward_and_expectation_agree(tmp_path, text, ok):
    assert ta.is_well_formed(text) is ok
    assert format_reward([text]) == [1.0 if ok else 0.0]
    assert _think_suite_accepts(tmp_path, text) is ok


def test_parse_and_format_round_trip():
    assert ta.parse(ta.format_reply(" Step 1: x. ", "(B) D minor")) == ("Step 1: x.", "(B) D minor")
    assert ta.parse("<think> </think><answer>x</answer>") is None
    assert ta.answer_span("<think>x</think><answer> (B) y </answer>") == "(B) y"
    assert ta.answer_span("<ANSWER>B</ANSWER>") is None
    assert ta.strip_think('<think>{"a": 1}</think>{"b": 2}') == '{"b": 2}'


def test_final_answer_text_is_lenient_for_other_models():
    assert ta.final_answer_text("<THINK>a</THINK><ANSWER> B </ANSWER>") == "B"
    assert ta.final_answer_text("reasoning</think> the answer is D") == "the answer is D"
    assert ta.final_answer_text("<think>never closed A B C") == ""


_piece = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "(B) D minor", "Step 1:"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_piece, max_size=8).map("".join))
def test_well_formed_iff_parse_and_reward_is_the_indicator(text):
    parsed = ta.parse(text)
    assert ta.is_well_formed(text) is (parsed is not None)
    assert format_reward([text]) == [float(parsed is not None)]
    if parsed is not None:  # a well-formed reply re-serialises to the same blocks
        assert ta.parse(ta.format_reply(*parsed)) == parsed and all(parsed)


def test_with_instruction_appends_once():
    assert ta.with_instruction("<sound>\nq") == f"<sound>\nq\n{ta.THINK_INSTRUCTION}"
    assert ta.with_instruction(f"q\n{ta.THINK_INSTRUCTION}") == f"q\n{ta.THINK_INSTRUCTION}"
    assert ta.with_instruction("q", None) == "q"
