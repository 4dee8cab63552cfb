"""GRPO rewards: pure functions of the completion text (and the item's columns).

Contract (every function returns one float per completion, same order; a
per-item column is one value for all completions, e.g. the G samples of one
prompt, or one value per completion):
- `format_reward(completions)`: 1.0 iff the completion follows the one
  think/answer rule (`think_answer.is_well_formed`: one non-blank `<think>`
  block then one non-blank `<answer>` block, only whitespace around and
  between them; the MF-Think gate uses the same rule), else 0.0.
- `accuracy_reward(completions, answer_letter, options, answer=None)`: reads
  only the `<answer>` block (no block, 0.0). With options, 1.0 iff the choice
  read from it (`model.answers.extract_choice`: by letter or by option text)
  is `answer_letter`; without options, 1.0 iff its normalised text (case,
  punctuation, articles, spacing) equals the normalised `answer`.
- `structured_reward(completions, truth)`: Music Flamingo's structured-thinking
  reward. `truth` is the track's structured ground truth `{category: str |
  None}` (`data/mf_skills/structured.jsonl`); for each known category the
  completion's text (think and answer) is matched against it
  (`data.structured.match_category`) and the count is normalised by the
  number of known categories. No truth (None or nothing known) gives 0.0.
- `combined_reward(completions, weights, **columns)` returns `(total, {name:
  per-completion list})` with `total = sum(w * component)`, computing only
  the components with a weight in `weights`; an unknown name raises KeyError.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from musicflamingo.model.answers import extract_choice
from musicflamingo.think_answer import answer_span, is_well_formed

REWARDS = ("format", "accuracy", "structured")


def _per_completion(value, n: int, name: str, is_scalar) -> list:
    values = [value] * n if is_scalar(value) else list(value)
    if len(values) != n:
        raise ValueError(f"got {n} completions but {len(values)} values of {name}")
    return values


def format_reward(completions: Sequence[str]) -> list[float]:
    return [1.0 if is_well_formed(text) else 0.0 for text in completions]


def normalise_answer(text: str) -> str:
    """Lower case, punctuation and articles removed, whitespace collapsed (SQuAD-style)."""
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def accuracy_reward(completions: Sequence[str], answer_letter, options, answer=None) -> list[float]:
    n = len(completions)
    letters = _per_completion(answer_letter, n, "answer_letter", lambda v: v is None or isinstance(v, str))
    opts = _per_completion(options or [], n, "options", lambda v: not v or isinstance(v[0], str))
    answers = _per_completion(answer, n, "answer", lambda v: v is None or isinstance(v, str))
    out = []
    for text, letter, opt, ans in zip(completions, letters, opts, answers):
        span = answer_span(text)
        if span is None:
            out.append(0.0)
        elif opt:
            out.append(1.0 if letter and extract_choice(f"<answer>{span}</answer>", opt) == letter.strip().upper() else 0.0)
        else:
            out.append(1.0 if ans is not None and normalise_answer(span) == normalise_answer(ans) else 0.0)
    return out


def structured_reward(completions: Sequence[str], truth) -> list[float]:
    from musicflamingo.data.structured import structured_reward as match_fraction

    truths = _per_completion(truth, len(completions), "truth", lambda v: v is None or isinstance(v, Mapping))
    return [match_fraction(text, t) if t else 0.0 for text, t in zip(completions, truths)]


def combined_reward(
    completions: Sequence[str], weights: Mapping[str, float], answer_letter=None, options=None, answer=None, truth=None
) -> tuple[list[float], dict[str, list[float]]]:
    unknown = set(weights) - set(REWARDS)
    if unknown:
        raise KeyError(f"unknown reward(s) {sorted(unknown)}; known: {list(REWARDS)}")
    compute = {
        "format": lambda: format_reward(completions),
        "accuracy": lambda: accuracy_reward(completions, answer_letter, options, answer),
        "structured": lambda: structured_reward(completions, truth),
    }
    parts = {k: compute[k]() for k in REWARDS if k in weights}
    total = [sum(float(weights[k]) * parts[k][i] for k in parts) for i in range(len(completions))]
    return total, parts
