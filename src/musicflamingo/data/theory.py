"""Music-theory readings of MIR facts: Roman numerals, harmonic function,
cadences, modulations and harmonic rhythm.

Everything is derived from the chord and key facts; nothing is guessed. A
chord is read relative to the global key (or the section key where the MIR
facts give one). Times are seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from musicflamingo.mir.harte import root_and_quality, simple_name
from musicflamingo.pitch import PITCH_CLASSES, parse_key, pitch_class  # noqa: F401  (parse_key re-exported)

_MAJOR_DEGREES = {0: "I", 1: "bII", 2: "II", 3: "bIII", 4: "III", 5: "IV", 6: "#IV", 7: "V", 8: "bVI", 9: "VI", 10: "bVII", 11: "VII"}
_MINOR_DEGREES = {0: "I", 1: "bII", 2: "II", 3: "III", 4: "#III", 5: "IV", 6: "#IV", 7: "V", 8: "VI", 9: "#VI", 10: "VII", 11: "#VII"}
# Diatonic triads (degree numeral with case and quality), used to mark chromatic chords.
_DIATONIC = {
    "major": {"I", "ii", "iii", "IV", "V", "vi", "vii°"},
    "minor": {"i", "ii°", "III", "iv", "v", "V", "VI", "VII", "#vii°"},
}
FUNCTION = {"I": "tonic", "i": "tonic", "vi": "tonic", "VI": "tonic", "iii": "tonic", "III": "tonic",
            "ii": "predominant", "ii°": "predominant", "IV": "predominant", "iv": "predominant",
            "V": "dominant", "vii°": "dominant", "#vii°": "dominant", "v": "dominant", "VII": "subtonic"}


@dataclass(frozen=True)
class Chord:
    start: float
    end: float
    label: str      # Harte
    name: str       # readable: "B7", "C#m"
    root: int
    quality: str    # Harte quality: maj, min, 7, min7, hdim7, ...


def chords_of(facts: dict) -> list[Chord]:
    out = []
    for s, e, lab in facts.get("chords") or []:
        rq = root_and_quality(lab)
        if rq:
            out.append(Chord(float(s), float(e), lab, simple_name(lab), pitch_class(rq[0]), rq[1]))
    return out


MERGE_GAP_S = 0.5  # a longer gap (a no-chord stretch) keeps two spans apart: merging would claim harmony in silence


def merged(chords: list[Chord]) -> list[Chord]:
    """Consecutive repeats of the same readable chord merged into one span."""
    out: list[Chord] = []
    for c in chords:
        if out and out[-1].name == c.name and c.start - out[-1].end <= MERGE_GAP_S:
            p = out[-1]
            out[-1] = Chord(p.start, c.end, p.label, p.name, p.root, p.quality)
        else:
            out.append(c)
    return out


def roman(chord: Chord, key: str) -> str:
    """Roman numeral of a chord in a key: `B7` in E major -> `V7`, `C#m` -> `vi`, `F#7` -> `II7`."""
    return _roman(chord.root, chord.quality, key)


@lru_cache(maxsize=4096)
def _roman(root: int, q: str, key: str) -> str:
    tonic, mode = parse_key(key)
    deg = (root - tonic) % 12
    base = (_MAJOR_DEGREES if mode == "major" else _MINOR_DEGREES)[deg]
    acc, letters = (base[0], base[1:]) if base[0] in "#b" else ("", base)
    if q.startswith("min") or q == "hdim7" or q.startswith("dim"):
        letters = letters.lower()
    suffix = {"dim": "°", "dim7": "°7", "hdim7": "ø7", "aug": "+", "7": "7", "maj7": "maj7", "min7": "7", "maj6": "6", "min6": "6"}.get(q, "")
    return acc + letters + suffix


def triad_numeral(numeral: str) -> str:
    """`V7` -> `V`, `viiø7` -> `vii°`: the numeral that decides diatonic membership and function."""
    core = numeral.replace("maj7", "").replace("ø7", "°").replace("°7", "°").rstrip("76+")
    return core


def function_of(numeral: str) -> str | None:
    return FUNCTION.get(triad_numeral(numeral))


def is_diatonic(numeral: str, mode: str) -> bool:
    return triad_numeral(numeral) in _DIATONIC[mode]


def secondary_dominant(chord: Chord, key: str) -> str | None:
    """`F#7` in E major -> `V7/V` (a major or dominant-seventh chord a fifth above a diatonic degree other than I)."""
    if chord.quality not in ("maj", "7"):
        return None
    tonic, mode = parse_key(key)
    target = (chord.root + 5) % 12  # the chord resolves down a fifth
    deg = (target - tonic) % 12
    names = {2: "ii", 4: "iii", 5: "IV", 7: "V", 9: "vi"} if mode == "major" else {3: "III", 5: "iv", 8: "VI", 10: "VII"}
    if deg not in names or is_diatonic(roman(chord, key), mode):
        return None
    return ("V7/" if chord.quality == "7" else "V/") + names[deg]


@dataclass(frozen=True)
class Cadence:
    time: float        # onset of the goal chord (s)
    kind: str          # authentic | plagal | half | deceptive
    approach: str      # "B7 -> E"
    numerals: str      # "V7 -> I"


def cadences(chords: list[Chord], key: str, downbeats: list[float] | None = None) -> list[Cadence]:
    return _cadences(tuple(chords), key, tuple(downbeats[:2]) if downbeats else None)


@lru_cache(maxsize=64)
def _cadences(chords: tuple[Chord, ...], key: str, downbeats: tuple[float, ...] | None) -> list[Cadence]:
    """Cadential motions in the merged chord sequence.

    authentic: V(7) -> I; plagal: IV -> I; deceptive: V(7) -> vi (VI in minor);
    half: a phrase that stops on V (a V held for at least two bars, or the last chord).
    Two chords with a no-chord stretch between them (a gap over `MERGE_GAP_S`) make no cadence.
    """
    seq = merged(chords)
    tonic, mode = parse_key(key)
    bar = (downbeats[1] - downbeats[0]) if downbeats and len(downbeats) > 1 else None
    out: list[Cadence] = []
    for a, b in zip(seq, seq[1:]):
        if b.start - a.end > MERGE_GAP_S:
            continue
        ra, rb = triad_numeral(roman(a, key)), triad_numeral(roman(b, key))
        kind = None
        if ra == "V" and rb in ("I", "i"):
            kind = "authentic"
        elif ra in ("IV", "iv") and rb in ("I", "i"):
            kind = "plagal"
        elif ra == "V" and rb in ("vi", "VI"):
            kind = "deceptive"
        elif rb == "V" and bar and (b.end - b.start) >= bar * 1.95 and ra != "V":  # a held dominant ends a phrase
            kind = "half"
        if kind:
            out.append(Cadence(b.start, kind, f"{a.name} -> {b.name}", f"{roman(a, key)} -> {roman(b, key)}"))
    if (seq and triad_numeral(roman(seq[-1], key)) == "V" and len(seq) > 1 and not (out and out[-1].time == seq[-1].start)
            and seq[-1].start - seq[-2].end <= MERGE_GAP_S):
        out.append(Cadence(seq[-1].start, "half", f"{seq[-2].name} -> {seq[-1].name}", f"{roman(seq[-2], key)} -> {roman(seq[-1], key)}"))
    return out


def harmonic_rhythm(chords: list[Chord], downbeats: list[float]) -> float | None:
    """Chord changes per bar (merged repeats do not count)."""
    if len(downbeats) < 2:
        return None
    span = downbeats[-1] - downbeats[0]
    bars = (len(downbeats) - 1)
    changes = sum(1 for c in merged(chords) if downbeats[0] <= c.start < downbeats[-1])
    return changes / bars if span > 0 and bars else None


def modulations(section_keys: list | None, key: str) -> list[tuple[float, str, str]]:
    """(time, from key, to key) wherever consecutive section keys differ.

    Only a change *between* sections is a modulation: a first section whose key differs from the
    track's fused `key` is a disagreement of two estimates at 0:00, not a modulation (the claim
    checker reads modulations the same way)."""
    out = []
    prev = None
    for s, _, k in section_keys or []:
        if k and prev is not None and k != prev:
            out.append((float(s), prev, k))
        prev = k or prev
    return out


def relation(from_key: str, to_key: str) -> str:
    """Name the key relation of a modulation (dominant, subdominant, relative, parallel, ...)."""
    a, ma = parse_key(from_key)
    b, mb = parse_key(to_key)
    d = (b - a) % 12
    if d == 0 and ma != mb:
        return "the parallel " + mb
    if ma == "major" and mb == "minor" and d == 9 or ma == "minor" and mb == "major" and d == 3:
        return "the relative " + mb
    return {7: "the dominant", 5: "the subdominant", 2: "the supertonic", 9: "the submediant", 4: "the mediant"}.get(d, f"a key {d} semitones up")


def tonic_share(chords: list[Chord], key: str) -> float:
    total = sum(c.end - c.start for c in chords) or 1.0
    tonic = sum(c.end - c.start for c in chords if triad_numeral(roman(c, key)) in ("I", "i"))
    return tonic / total


def most_common(chords: list[Chord], k: int = 3) -> list[str]:
    dur: Counter = Counter()
    for c in chords:
        dur[c.name] += c.end - c.start
    return [n for n, _ in dur.most_common(k)]


def key_display(key: str) -> str:
    pc, mode = parse_key(key)
    return f"{PITCH_CLASSES[pc]} {mode}"
