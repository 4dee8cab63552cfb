"""The Audio Flamingo conversation format (the think/answer format is `musicflamingo.think_answer`)."""

from __future__ import annotations

from musicflamingo.schemas import Conversation, Turn
from musicflamingo.think_answer import THINK_INSTRUCTION  # noqa: F401  (re-exported: the prompts' instruction)

LETTERS = "ABCD"
SOUND = "<sound>"


def choices_prompt(question: str, options: list[str]) -> str:
    """The MCQ prompt of benchmarks scored by option *text* (MMAU and others): unlettered choices.

    Used by the evaluation's `render_prompt` and by training's option-text variants, so the model
    is trained on the very prompt it is evaluated with."""
    return f"{question}\nChoices: {'; '.join(options)}\nAnswer with the exact text of one choice."


def mcq_prompt(question: str, options: list[str]) -> str:
    lines = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
    return f"{question}\n{lines}\nAnswer with the letter of the correct option."


def conversation(cid: str, track: dict, human: str, gpt: str, task: str, **extra) -> Conversation:
    return Conversation(
        id=cid,
        sound=track["path"],
        duration=track["duration_s"],
        conversations=[Turn(**{"from": "human", "value": f"{SOUND}\n{human}"}), Turn(**{"from": "gpt", "value": gpt})],
        track_id=track["id"] if "id" in track else track["track_id"],
        task=task,
        **extra,
    )

