"""Held-out multiple-choice evaluation of one checkpoint.

Contract:
- `evaluate_mcq(model, processor, items, audio, ...)` greedy-decodes every
  MCQ item (the human turn as the prompt, plus the think/answer instruction
  when `instruction` is given), reads the chosen letter with
  `extract_choice` (the `<answer>` block if present, else the first
  standalone letter, else the text of exactly one option) and returns one
  prediction dict per item, in item order.
- `summarise(predictions)` -> {"accuracy", "ci95", "n", "correct",
  "unparsed", "chance", "by_skill"}; chance is the mean over items of
  1 / number of options; `ci95` is the 95 % Wilson score interval of the
  accuracy (`wilson_ci`), overall and per skill.
- `wilson_ci(k, n, confidence=0.95)` -> (low, high): Wilson's score interval
  for k successes in n trials (scipy `binomtest(...).proportion_ci`);
  (None, None) when n is 0.
"""

from __future__ import annotations

from collections import defaultdict

from musicflamingo.model import inputs as mi
from musicflamingo.model.answers import extract_choice
from musicflamingo.model.decode import decode_batches
from musicflamingo.think_answer import with_instruction

__all__ = ["evaluate_mcq", "extract_choice", "summarise"]


def evaluate_mcq(
    model,
    processor,
    items: list[dict],
    audio: mi.AudioLoader,
    max_new_tokens: int,
    batch_size: int,
    instruction: str | None = None,
) -> list[dict]:
    preds: list[dict] = []
    humans = [with_instruction(mi.human_turn(r), instruction) for r in items]
    for start, texts in decode_batches(model, processor, humans, lambda i: audio(items[i]["sound"]), max_new_tokens, batch_size):
        for r, text in zip(items[start:], texts):
            letter = extract_choice(text, r.get("options"))
            preds.append(
                {
                    "id": r["id"],
                    "track_id": r.get("track_id"),
                    "skill": r.get("skill"),
                    "answer_letter": r["answer_letter"],
                    "predicted_letter": letter,
                    "correct": letter == r["answer_letter"],
                    "n_options": len(r.get("options") or []) or 4,
                    "output": text,
                }
            )
    return preds


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return round(float(ci.low), 4), round(float(ci.high), 4)


def summarise(preds: list[dict]) -> dict:
    n = len(preds)
    correct = sum(p["correct"] for p in preds)
    by_skill: dict[str, list[bool]] = defaultdict(list)
    for p in preds:
        by_skill[p.get("skill") or "unknown"].append(p["correct"])
    return {
        "accuracy": round(correct / n, 4) if n else None,
        "ci95": wilson_ci(correct, n),
        "n": n,
        "correct": correct,
        "unparsed": sum(p["predicted_letter"] is None for p in preds),
        "chance": round(sum(1 / p["n_options"] for p in preds) / n, 4) if n else None,
        "by_skill": {
            k: {"accuracy": round(sum(v) / len(v), 4), "ci95": wilson_ci(sum(v), len(v)), "n": len(v), "correct": sum(v)}
            for k, v in sorted(by_skill.items())
        },
    }
