"""GRPO rewards are pure functions of the completion strings."""

from __future__ import annotations

import pytest

from musicflamingo.train.rewards import (
    accuracy_reward,
    combined_reward,
    format_reward,
    normalise_answer,
    structured_reward,
)

OPTIONS = ["G major", "D minor", "A minor", "E major"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>Step 1: the bass outlines D.</think><answer>(B) D minor</answer>", 1.0),
        ("  <think>a</think>\n<answer>B</answer>\n", 1.0),  # whitespace around/between blocks is fine
        ("<answer>(B)</answer>", 0.0),  # no think block
        ("<think>x</think>", 0.0),  # no answer block
        ("<answer>(B)</answer><think>x</think>", 0.0),  # wrong order
        ("Sure! <think>x</think><answer>B</answer>", 0.0),  # text before
        ("<think>x</think><answer>B</answer> because", 0.0),  # text after
        ("<think>x</think>so<answer>B</answer>", 0.0),  # text between
        ("<think></think><answer>B</answer>", 0.0),  # empty think
        ("<think>x</think><answer> </answer>", 0.0),  # empty answer
        ("<think>x<think>y</think><answer>B</answer>", 0.0),  # nested / repeated tag
        ("<think>x</think><answer>B</answer><answer>C</answer>", 0.0),  # two answers
        ("", 0.0),
    ],
)
def test_format_reward(text, expected):
    assert format_reward([text]) == [expected]


def test_accuracy_reward_by_letter_or_option_text():
    completions = [
        "<think>x</think><answer>(B) D minor</answer>",  # letter
        "<think>x</think><answer>D minor</answer>",  # option text only
        "<think>x</think><answer>B</answer>",  # bare letter
        "<think>x</think><answer>(C) A minor</answer>",  # wrong
        "The answer is (B).",  # no answer block: nothing is read
        "<think>maybe (B)</think><answer>(A)</answer>",  # only the answer block counts
        "<think>x</think><answer>(B)",  # unclosed answer block
        "no idea",
    ]
    assert accuracy_reward(completions, "B", OPTIONS) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_accuracy_reward_free_form_answers_are_normalised():
    texts = ["<think>x</think><answer>The  D-minor!</answer>", "<answer>d minor</answer>", "<answer>D major</answer>"]
    assert accuracy_reward(texts, None, None, answer="D minor") == [0.0, 1.0, 0.0]  # "dminor" != "d minor"
    assert normalise_answer("  The Waltz, in 3/4. ") == "waltz in 34"
    assert accuracy_reward(["<answer>A waltz</answer>"], None, [], answer="the Waltz") == [1.0]


def test_accuracy_reward_accepts_per_completion_keys():
    texts = ["<answer>(A)</answer>"] * 2
    assert accuracy_reward(texts, ["A", "B"], [OPTIONS, OPTIONS]) == [1.0, 0.0]
    with pytest.raises(ValueError):
        accuracy_reward(texts, ["A"], [OPTIONS, OPTIONS])


def test_combined_reward_weights_components():
    texts = ["<think>x</think><answer>(B)</answer>", "<think>x</think><answer>(C)</answer>", "(B)"]
    total, parts = combined_reward(texts, {"format": 0.5, "accuracy": 1.0}, answer_letter="B", options=OPTIONS)
    assert parts == {"format": [1.0, 1.0, 0.0], "accuracy": [1.0, 0.0, 0.0]}
    assert total == [1.5, 0.5, 0.0]
    with pytest.raises(KeyError):
        combined_reward(texts, {"length": 1.0}, answer_letter="B", options=OPTIONS)


TRUTH = {
    "Genre": "Bach chorale",
    "BPM": "120.0",
    "Key": "D major",
    "Meter": "3/4",
    "Structure": None,  # unknown categories are left out of the denominator
    "Instruments": "violin",
    "Theory": None,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A Bach chorale in D major, 3/4 at 120 BPM, played on violin.", 5 / 5),
        ("<think>The key is D major and the meter is 3/4.</think><answer>(A)</answer>", 2 / 5),
        ("<think>The key is D minor at 60 BPM.</think><answer>(A)</answer>", 0.0),  # wrong mode, half tempo
        ("A chorale by Bach at about 121 bpm.", 2 / 5),  # genre keyword, tempo within 4 %
        ("", 0.0),
    ],
)
def test_structured_reward_matches_categories_normalised_by_known_ones(text, expected):
    assert structured_reward([text], TRUTH) == [pytest.approx(expected)]


def test_structured_reward_without_truth_is_zero_and_per_completion_truths_align():
    text = "In D major."
    assert structured_reward([text, text], [None, {"Key": "D major"}]) == [0.0, 1.0]
    assert structured_reward([text], {"Structure": None}) == [0.0]
    total, parts = combined_reward([text], {"structured": 2.0, "format": 1.0}, truth={"Key": "D major", "BPM": "90"})
    assert parts == {"format": [0.0], "structured": [0.5]} and total == [1.0]
