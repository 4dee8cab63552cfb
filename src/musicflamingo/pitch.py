"""The one music-theory vocabulary: pitch classes, note and key names.

Pitch classes are integers 0..11 with C = 0 (MIREX / mir_eval convention).
We spell them with one fixed name each, `PITCH_CLASSES` (sharps for C#, F#,
flats for Eb, Ab, Bb, as the MIREX key task and our MIR fusion write them);
`KEYS_24` are the 24 major/minor keys in that spelling, majors first
(`key_index` / `index_key` convert, the order of the fused key histogram).

- `pitch_class(name)`: a note name -> 0..11. A letter A-G in either case,
  then accidentals: `#`, `♯`, `b`, `♭` (any number) or the words
  "sharp"/"flat" ("F sharp"); anything else raises `NotANote`.
- `key_name(tonic, mode)`: our spelling of a key ("A#", "minor" -> "Bb minor").
- `parse_key("Db major")` -> (1, "major"); `NotANote` / ValueError when malformed.
- `spellings(pc)`: every name of a pitch class with at most one accidental
  ("C#", "Db"), what a text may call it; `enharmonics(name)`: the others.

Used by MIR (key fusion, chord spelling, Harte conversion), the data writers
and their fact checker, the structured-thinking reward and the test
harnesses. Chord qualities live with Harte syntax in `mir/harte.py`.
"""

from __future__ import annotations

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
KEYS_24 = tuple(f"{p} {m}" for p in PITCH_CLASSES for m in MODES)
NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class NotANote(ValueError, KeyError):
    """Not a note name. Both a ValueError and a KeyError (what a failed table look-up raised before)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not a note name"


def pitch_class(name: str) -> int:
    """0..11 (C = 0) of a note name (module docstring); `NotANote` otherwise."""
    if not isinstance(name, str) or not name or name[0].upper() not in NATURALS:
        raise NotANote(f"not a note name: {name!r}")
    acc = name[1:]
    low = acc.lower()
    shift = acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭") + ("sharp" in low) - ("flat" in low)
    return (NATURALS[name[0].upper()] + shift) % 12


def key_name(tonic: str, mode: str) -> str:
    """Our spelling of a key: the tonic's pitch-class name and the mode in lower case."""
    return f"{PITCH_CLASSES[pitch_class(tonic)]} {mode.lower()}"


def parse_key(key: str) -> tuple[int, str]:
    """`"Db major"` -> (1, "major"): the tonic's pitch class and the mode as written."""
    tonic, mode = key.split()
    return pitch_class(tonic), mode


def key_index(key: str) -> int:
    """`'A minor'` -> 0..23 (majors 0..11 by pitch class, then minors)."""
    pc, mode = parse_key(key)
    return pc + (12 if mode == "minor" else 0)


def index_key(i: int) -> str:
    """0..23 -> the key name (inverse of `key_index` on `KEYS_24`)."""
    return f"{PITCH_CLASSES[i % 12]} {'minor' if i >= 12 else 'major'}"


_ONE_ACCIDENTAL = (*NATURALS, *(f"{n}#" for n in NATURALS), *(f"{n}b" for n in NATURALS))


def spellings(pc: int) -> list[str]:
    """The names of pitch class `pc` with at most one accidental, ours first: 1 -> ["C#", "Db"]."""
    ours = PITCH_CLASSES[pc % 12]
    return [ours] + sorted(n for n in _ONE_ACCIDENTAL if n != ours and pitch_class(n) == pc % 12)


def enharmonics(name: str) -> list[str]:
    """The other one-accidental names of note `name` ("C#" -> ["Db"]); [] when `name` is not a note name."""
    try:
        pc = pitch_class(name)
    except NotANote:
        return []
    return [n for n in spellings(pc) if n != name]
