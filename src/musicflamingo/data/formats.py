"""The Audio Flamingo conversation format and the think/answer format."""

from __future__ import annotations

import re

from musicflamingo.schemas import Conversation, Turn

LETTERS = "ABCD"
SOUND = "<sound>"
THINK_INSTRUCTION = "Think step by step inside <think></think>, then give the final answer inside <answer></answer>."
THINK_RE = re.compile(r"^<think>(?P<think>.+?)</think>\s*<answer>(?P<answer>.+?)</answer>$", re.S)


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


def is_well_tagged(text: str) -> bool:
    """Strict format: exactly one think block followed by exactly one answer block."""
    m = THINK_RE.match(text.strip())
    return bool(m) and text.count("<think>") == 1 and text.count("<answer>") == 1

