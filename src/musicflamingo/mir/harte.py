"""Chord label conversion to Harte syntax (what mir_eval scores).

Chordino writes labels like `Em7`, `Bb/F`, `F#m7b5`, `N`; Harte writes
`E:min7`, `Bb:maj/5`, `F#:hdim7`, `N`.
"""

from __future__ import annotations

import re

from musicflamingo.pitch import pitch_class

_NOTE = re.compile(r"^([A-G])([#b]*)(.*)$")
_QUALITIES = [  # longest first
    ("m7b5", "hdim7"), ("maj7", "maj7"), ("dim7", "dim7"), ("aug", "aug"), ("dim", "dim"),
    ("m7", "min7"), ("m6", "min6"), ("6", "maj6"), ("7", "7"), ("m", "min"), ("", "maj"),
]
_INTERVALS = {0: "1", 1: "b2", 2: "2", 3: "b3", 4: "3", 5: "4", 6: "b5", 7: "5", 8: "b6", 9: "6", 10: "b7", 11: "7"}


def _pc(note: str) -> int:
    m = _NOTE.match(note)
    if not m:
        raise ValueError(f"not a note: {note!r}")
    return pitch_class(m.group(1) + m.group(2))


def to_harte(label: str) -> str:
    """Convert one Chordino label to Harte syntax; unknown shapes raise ValueError."""
    label = label.strip()
    if label in ("N", ""):
        return "N"
    body, _, bass = label.partition("/")
    m = _NOTE.match(body)
    if not m:
        raise ValueError(f"cannot read chord label {label!r}")
    root, rest = m.group(1) + m.group(2), m.group(3)
    for suffix, quality in _QUALITIES:
        if rest == suffix:
            break
    else:
        raise ValueError(f"unknown chord quality {rest!r} in {label!r}")
    harte = f"{root}:{quality}"
    if bass:
        harte += "/" + _INTERVALS[(_pc(bass) - _pc(root)) % 12]
    return harte


def root_and_quality(harte: str) -> tuple[str, str] | None:
    """`'E:min7/b3'` -> `('E', 'min7')`; `'N'`/`'X'` -> None."""
    if harte in ("N", "X"):
        return None
    root, _, rest = harte.partition(":")
    return root, (rest.split("/")[0] or "maj")


def simple_name(harte: str) -> str:
    """Human-readable name used in captions: `E:min7` -> `Em7`, `C:maj` -> `C`."""
    rq = root_and_quality(harte)
    if rq is None:
        return "no chord"
    root, q = rq
    suffix = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "dim": "dim", "aug": "aug", "hdim7": "m7b5", "dim7": "dim7", "maj6": "6", "min6": "m6"}.get(q, q)
    return root + suffix
