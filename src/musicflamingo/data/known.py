"""The known value of a MIR fact, or None: one reading of "absent" for every consumer.

A facts row (`schemas.MirFacts`, written by `mir.annotate`) may lack a field,
or hold a value that means "not known": None or "" (not computed),
"unknown" (the meter tracker could not decide), a tempo of 0 (no pulse
found), an empty list, or a non-finite number (replaced by None upstream,
refused here again). The writers, the claim checker, structured truth and
MF-Think read facts through these helpers, so an absent fact is simply not
stated; nothing is ever defaulted (no 120 BPM, no C major).
"""

from __future__ import annotations

import math
import re
from typing import Mapping

_KEY_RE = re.compile(r"^\s*([A-Ga-g](?:#|b)?)\s*[:\s\-]\s*(major|minor|maj|min)\s*$", re.I)
_METER_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(1|2|4|8|16|32)\s*$")


def as_number(value) -> float | None:
    """A finite real number as float; None for None, bools, text, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def as_key(value) -> str | None:
    """`'D major'`, `'Eb:min'`, `'f# minor'` -> `'D major'`, `'Eb minor'`, `'F# minor'` (tonic spelling kept);
    None for None, "", "unknown" or anything else that does not name a major or minor key."""
    m = _KEY_RE.match(value) if isinstance(value, str) else None
    if not m:
        return None
    tonic = m.group(1)[0].upper() + m.group(1)[1:]
    return f"{tonic} {'major' if m.group(2).lower().startswith('maj') else 'minor'}"


def as_meter(value) -> str | None:
    """`'4/4'`, `' 6 / 8 '` -> `'4/4'`, `'6/8'`; None for None, "", "unknown" or a malformed signature."""
    m = _METER_RE.match(value) if isinstance(value, str) else None
    return f"{int(m.group(1))}/{m.group(2)}" if m and int(m.group(1)) >= 1 else None


def tempo(facts: Mapping) -> float | None:
    """The track tempo in BPM when one was measured (a positive finite number), else None."""
    bpm = as_number(facts.get("tempo_bpm"))
    return bpm if bpm is not None and bpm > 0 else None


def key(facts: Mapping) -> str | None:
    """The global key (`'<tonic> major|minor'`), else None."""
    return as_key(facts.get("key"))


def meter(facts: Mapping) -> str | None:
    """The time signature (`'3/4'`), else None (also for `'unknown'`)."""
    return as_meter(facts.get("time_signature"))


def number(facts: Mapping, name: str) -> float | None:
    """A numeric fact (loudness, confidence, brightness, ...) when it is a finite number, else None."""
    return as_number(facts.get(name))


def times(facts: Mapping, name: str) -> list[float]:
    """A list of instants (`beats`, `downbeats`) as finite floats in time order; [] when absent."""
    out = [t for t in (as_number(v) for v in facts.get(name) or []) if t is not None]
    return sorted(out)


def sections(facts: Mapping) -> list[tuple[float, float, str]]:
    """Well-formed `[start_s, end_s, label]` sections with a non-empty label; [] when absent."""
    out = []
    for row in facts.get("sections") or []:
        if isinstance(row, (list, tuple)) and len(row) >= 3:
            s, e, label = as_number(row[0]), as_number(row[1]), row[2]
            if s is not None and e is not None and e > s and isinstance(label, str) and label.strip():
                out.append((s, e, label.strip()))
    return out


def section_keys(facts: Mapping) -> list[tuple[float, float, str]]:
    """`[start_s, end_s, key]` rows whose key is known; [] when absent."""
    out = []
    for row in facts.get("section_keys") or []:
        if isinstance(row, (list, tuple)) and len(row) >= 3 and (k := as_key(row[2])) and as_number(row[0]) is not None:
            out.append((float(row[0]), as_number(row[1]) or float(row[0]), k))
    return out


def sung_words(facts: Mapping) -> list[tuple[float, float, str]]:
    """Timed transcript words `(start_s, end_s, word)`; [] when there are none or the vocal detector says
    the track is instrumental (a transcript of an instrumental track is noise, never a lyric)."""
    if facts.get("vocals") is False:
        return []
    out = []
    for row in facts.get("words") or []:
        if isinstance(row, (list, tuple)) and len(row) >= 3 and isinstance(row[2], str) and row[2].strip(".,!?' \"") \
                and as_number(row[0]) is not None:
            out.append((float(row[0]), as_number(row[1]) or float(row[0]), row[2]))
    return out


def lyrics(facts: Mapping) -> str:
    """The transcript text; "" when there is none or the track is instrumental."""
    text = facts.get("lyrics")
    return text.strip() if isinstance(text, str) and facts.get("vocals") is not False else ""


__all__ = ["as_number", "as_key", "as_meter", "tempo", "key", "meter", "number", "times", "sections", "section_keys",
           "sung_words", "lyrics"]
