"""Reading a multiple-choice answer out of generated text.

Shared by the GRPO accuracy reward and the evaluation, so training optimises
exactly what the evaluation measures.

Contract:
- `answer_span(text)` (from `musicflamingo.think_answer`) is the content of
  the first `<answer>...</answer>` block, or None.
- `extract_choice(text, options)` returns the chosen letter ("A".."D", or
  further letters when there are more options) or None. It reads the answer
  block when there is one, else the whole text; inside that it takes, in
  order: a parenthesised letter "(B)", a standalone letter "B" / "B." /
  "B)" (skipping note names such as "B minor" and the article "A"), then
  the text of exactly one option, as whole words (an option contained in
  another named option does not count, so "G major" is not also read as "G").
"""

from __future__ import annotations

import re
import string

from musicflamingo.think_answer import answer_span


def _letters(n_options: int) -> str:
    return string.ascii_uppercase[: max(n_options, 4)]


def _is_prose(body: str, m: re.Match) -> bool:
    """A capital letter that is a note name ("B minor", "E flat") or the article "A" ("A calm piece")."""
    after = body[m.end() :]
    if re.match(r"\s+(?:major|minor|flat|sharp|natural)\b", after):
        return True
    return m.group(1) == "A" and bool(re.match(r"\s+(?!is\b)[a-z]", after))


def _names_option(body: str, option: str) -> bool:
    """`option` appears in `body` as whole words ("D" is not found in "seconds", "C#" not in "C#m").

    Short options (chord and note names such as "Cm", "F#") match case-sensitively,
    since their case carries meaning; longer ones ignore case.
    """
    option = option.strip()
    if not option:
        return False
    flags = 0 if len(option) <= 3 else re.IGNORECASE
    return re.search(rf"(?<![\w#]){re.escape(option)}(?![\w#])", body, flags) is not None


def extract_choice(text: str, options: list[str] | None = None) -> str | None:
    """The option letter chosen in `text` (see module docstring), or None."""
    options = list(options or [])
    span = answer_span(text)
    body = span if span is not None else text
    letters = _letters(len(options))
    m = re.search(rf"\(([{letters}])\)", body)
    if m:
        return m.group(1)
    for m in re.finditer(rf"(?<![A-Za-z0-9#/])([{letters}])(?=$|[\s.,:;)\]])", body):
        if not _is_prose(body, m):
            return m.group(1)
    hits = [i for i, o in enumerate(options) if _names_option(body, o)]
    # An option contained in another named option ("G" in "G major") is not a second choice.
    hits = [i for i in hits if not any(j != i and options[i].lower() in options[j].lower() for j in hits)]
    if len(hits) == 1:
        return letters[hits[0]]
    return None
