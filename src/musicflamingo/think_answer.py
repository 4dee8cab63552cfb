"""The think/answer protocol: one rule for writing, gating, rewarding and reading
`<think>…</think><answer>…</answer>` replies.

Music Flamingo's reasoning format (MF-Think, GRPO; arXiv:2511.10289 §4) is a
chain of thought in a `<think>` block followed by the final answer in an
`<answer>` block. The four tags are atomic tokens of our tokenizer
(`TAG_TOKENS`), so they are matched exactly (case-sensitive) everywhere
except in `final_answer_text`, which reads replies of *any* model for the
evaluation (see there).

The one rule (`is_well_formed`, `parse`): after stripping surrounding
whitespace, the text is exactly one `<think>` block then one `<answer>` block,
only whitespace between them, neither block empty or whitespace-only, and no
tag inside either block. The MF-Think gate (`data/think_stage.py`), the
data expectations and the GRPO format reward (`train/rewards.py`) all call it,
so a sample the gate accepts always earns the format reward and vice versa.

Users: the writers (`format_reply`, `THINK_INSTRUCTION`), the MF-Think gate,
the rewards, the cold-start/benchmark probes and the evaluation
(`answer_span`, `final_answer_text`, `strip_think`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "<think>", "</think>", "<answer>", "</answer>"
TAG_TOKENS = [THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE]
THINK_INSTRUCTION = "Think step by step inside <think></think>, then give the final answer inside <answer></answer>."

_NO_TAG = r"(?:(?!</?think>|</?answer>).)"
_STRICT = re.compile(rf"<think>(?P<think>{_NO_TAG}+)</think>\s*<answer>(?P<answer>{_NO_TAG}+)</answer>", re.S)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
# For any model's output: tags in any case; an unclosed <think> runs to the end (a truncated trace).
_LENIENT_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_LENIENT_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)


def with_instruction(human: str, instruction: str | None = THINK_INSTRUCTION) -> str:
    """The human turn with `instruction` on a new line, unless it is empty or already there
    (an MF-Think sample's turn carries it): how GRPO, the probes and the eval ask for a think/answer reply."""
    return f"{human}\n{instruction}" if instruction and instruction not in human else human


class ThinkAnswer(NamedTuple):
    think: str
    answer: str


def format_reply(think: str, answer: str) -> str:
    """`<think>{think}</think><answer>{answer}</answer>`, as written; the gate (`is_well_formed`) judges it."""
    return f"{THINK_OPEN}{think}{THINK_CLOSE}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def parse(text: str) -> ThinkAnswer | None:
    """The (think, answer) blocks, each stripped, if `text` follows the one rule (module docstring), else None."""
    if not isinstance(text, str):
        return None
    m = _STRICT.fullmatch(text.strip())
    if not m or not m.group("think").strip() or not m.group("answer").strip():
        return None
    return ThinkAnswer(m.group("think").strip(), m.group("answer").strip())


def is_well_formed(text: str) -> bool:
    """True iff `parse(text)` is not None: the MF-Think gate and the GRPO format reward."""
    return parse(text) is not None


def answer_span(text: str) -> str | None:
    """The stripped content of the first `<answer>…</answer>` block, or None (our models' replies)."""
    m = _ANSWER.search(text or "")
    return m.group(1).strip() if m else None


def strip_think(text: str) -> str:
    """`text` without its closed `<think>…</think>` blocks (any case), e.g. a judge model's reasoning."""
    return _THINK_BLOCK.sub("", text or "")


def final_answer_text(output: str) -> str:
    """What the evaluation scores in any model's output: the first `<answer>` block's content if any,
    else `output` without `<think>…</think>`.

    Lenient on purpose, since external models are scored too: tags in any case; an unclosed
    `<think>` runs to the end (a truncated trace has no answer); some servers drop the opening
    tag and leave "reasoning</think>answer", so only what follows the last `</think>` counts.
    """
    text = output or ""
    m = _LENIENT_ANSWER.search(text)
    if m:
        return m.group(1).strip()
    text = _LENIENT_THINK.sub(" ", text)
    if THINK_CLOSE in text.lower():
        text = re.split(r"</think>", text, flags=re.I)[-1]
    return text.strip()
