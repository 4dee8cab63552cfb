"""GRPO rewards: pure functions of the completion text.

Contract (every function returns one float per completion, same order):
- `format_reward(completions)`: 1.0 iff the completion is strictly
  `<think>...</think><answer>...</answer>` (non-empty blocks, one of each,
  only whitespace around and between them), else 0.0.
- `accuracy_reward(completions, answer_letter, options)`: 1.0 iff the choice
  read from the completion (`model.answers.extract_choice`: the `<answer>`
  block when present, by letter or by option text) is `answer_letter`.
  `answer_letter` and `options` are one value for all completions (the G
  samples of one prompt) or one per completion.
- `combined_reward(completions, answer_letter, options, weights)` returns
  `(total, {name: per-completion list})` with `total = sum(w * component)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from musicflamingo.model.answers import extract_choice

STRICT_FORMAT = re.compile(
    r"^\s*<think>(?P<think>(?:(?!</?think>|</?answer>).)+)</think>\s*<answer>(?P<answer>(?:(?!</?think>|</?answer>).)+)</answer>\s*$",
    re.S,
)

REWARDS = ("format", "accuracy")


def format_reward(completions: Sequence[str]) -> list[float]:
    out = []
    for text in completions:
        m = STRICT_FORMAT.match(text)
        ok = bool(m) and m.group("think").strip() != "" and m.group("answer").strip() != ""
        out.append(1.0 if ok else 0.0)
    return out


def accuracy_reward(completions: Sequence[str], answer_letter, options) -> list[float]:
    n = len(completions)
    letters = [answer_letter] * n if isinstance(answer_letter, str) else list(answer_letter)
    opts = [options] * n if options and isinstance(options[0], str) else list(options or [[]] * n)
    if len(letters) != n or len(opts) != n:
        raise ValueError(f"got {n} completions but {len(letters)} answer letters and {len(opts)} option lists")
    return [1.0 if extract_choice(c, o) == a.strip().upper() else 0.0 for c, a, o in zip(completions, letters, opts)]


def combined_reward(
    completions: Sequence[str], answer_letter, options, weights: dict
) -> tuple[list[float], dict[str, list[float]]]:
    parts = {"format": format_reward(completions), "accuracy": accuracy_reward(completions, answer_letter, options)}
    unknown = set(weights) - set(parts)
    if unknown:
        raise KeyError(f"unknown reward(s) {sorted(unknown)}; known: {sorted(parts)}")
    total = [sum(float(weights.get(k, 0.0)) * parts[k][i] for k in parts) for i in range(len(completions))]
    return total, parts
