"""GRPO rewards are pure functions of the completion strings."""

from __future__ import annotations

import pytest

from musicflamingo.train.rewards import accuracy_reward, combined_reward, format_reward

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
        "The answer is (B).",  # no tags: whole text is read
        "<think>maybe (B)</think><answer>(A)</answer>",  # the answer block wins over the think block
        "no idea",
    ]
    assert accuracy_reward(completions, "B", OPTIONS) == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]


def test_accuracy_reward_accepts_per_completion_keys():
    assert accuracy_reward(["(A)", "(A)"], ["A", "B"], [OPTIONS, OPTIONS]) == [1.0, 0.0]
    with pytest.raises(ValueError):
        accuracy_reward(["(A)", "(A)"], ["A"], [OPTIONS, OPTIONS])


def test_combined_reward_weights_components():
    texts = ["<think>x</think><answer>(B)</answer>", "<think>x</think><answer>(C)</answer>", "(B)"]
    total, parts = combined_reward(texts, "B", OPTIONS, {"format": 0.5, "accuracy": 1.0})
    assert parts == {"format": [1.0, 1.0, 0.0], "accuracy": [1.0, 0.0, 1.0]}
    assert total == [1.5, 0.5, 1.0]
    with pytest.raises(KeyError):
        combined_reward(texts, "B", OPTIONS, {"length": 1.0})
