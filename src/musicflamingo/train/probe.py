"""Greedy-decoding probe of a checkpoint on held-out MCQ prompts: the GRPO rewards, measured.

`reward_probe(model, processor, records, audio, max_new_tokens, truths=None, *,
weights, batch_size=8, think=True)` (`weights`: `train.grpo.reward_weights`) asks every record's question (with
the think/answer instruction when `think`, as GRPO and the evaluation do
for reasoning checkpoints), decodes greedily and returns the mean of each
reward component (`format`, `accuracy`, `structured`), the weighted
`reward`, `mcq_accuracy` (the choice read as the evaluation reads it: the
answer block, else the whole text) and `n`, plus `texts` (the decoded
completions, same order as `records`). Used after cold start (the format
rate must be high before GRPO can learn anything) and by the benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from musicflamingo.model import inputs as mi
from musicflamingo.model.decode import decode
from musicflamingo.train import rewards as rw


def reward_probe(
    model,
    processor,
    records: list[dict],
    audio: mi.AudioLoader,
    max_new_tokens: int,
    truths: dict | None = None,
    *,
    weights: Mapping[str, float],
    batch_size: int = 8,
    think: bool = True,
) -> dict:
    from musicflamingo.model.answers import extract_choice
    from musicflamingo.think_answer import THINK_INSTRUCTION, with_instruction

    if not records:
        raise ValueError("no records to probe")
    humans = [with_instruction(mi.human_turn(r), THINK_INSTRUCTION if think else None) for r in records]
    texts = decode(model, processor, humans, lambda i: audio(records[i]["sound"]), max_new_tokens, batch_size)
    total, parts = rw.combined_reward(
        texts,
        dict(weights),
        answer_letter=[r.get("answer_letter") for r in records],
        options=[r.get("options") or [] for r in records],
        answer=[r.get("answer") for r in records],
        truth=[(truths or {}).get(r.get("track_id", "")) for r in records],
    )
    out = {k: round(float(np.mean(v)), 4) for k, v in parts.items()}
    lenient = [extract_choice(t, r.get("options") or []) == r.get("answer_letter") for t, r in zip(texts, records)]
    out.update(reward=round(float(np.mean(total)), 4), mcq_accuracy=round(float(np.mean(lenient)), 4))
    out.update(n=len(records), texts=texts)
    return out
