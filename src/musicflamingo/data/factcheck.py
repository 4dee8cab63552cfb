"""Claim-level fact checking against MIR facts and catalogue tags: the quality filter.

Any text (caption, answer, reasoning step) is split into sentences; each
sentence yields checkable claims of these kinds:

    tempo       "142 BPM"                    vs facts.tempo_bpm (relative tolerance; x2 and /2 are wrong)
    key         "in E major"                 vs facts.key, or a section key (modulations)
    meter       "4/4", "triple meter"        vs facts.time_signature
    chord       "B7", "the chord C#m"        present in facts.chords (near the sentence's times, if any)
    time        "at 1:30", "12.5 s"          inside the track
    section     "the chorus starts at 0:45"  a section with that label has a boundary near the time
    sections    "three sections"             len(facts.sections)
    instrument  "violin"                     among tags.instruments (names, synonyms, head nouns)
    vocals      "sung", "instrumental"       facts.vocals
    lyric       'the word "love"'            in facts.lyrics / facts.words (near the sentence's times)
    loudness    "-14.2 LUFS"                 facts.loudness_lufs
    numeral     "B7 (V7)"                    the chord's Roman numeral in facts.key (or a section key)
    modulation  "at 0:42 it modulates to F"  a later section key F starting near 0:42; "never modulates" vs one key
    genre       "a jazz standard"            the catalogue's tradition/genre tag (and what it implies)
    duration    "lasts about 7 minutes"      facts.duration_s
    number      "It sits at 62."             any other number: unverifiable (so a claim split over two sentences is not released)

Mentions are recognised after numbers in words become digits (`text2num`:
"a hundred and twenty" -> 120, "minus nine" -> -9). Instruments come from
`vocabulary` (all 128 GM programs, music21's instruments, the corpus
traditions' instruments; singular/plural via `inflect`; synonyms and
families). A negated mention ("there is no flute", "not in E major") is a
claim that the fact is absent. Hedges ("seems to be in C# minor") are
claims like any other; relative tempo phrasings ("twice as fast as a
march") are unverifiable.

Confidence: facts come through `data.known.gate` (the stages apply it), so a
fact below its kind's hedge threshold is unknown here and every claim about it
is unverifiable, never support. A fact in the hedge band supports a claim only
in a hedged sentence ("probably", "likely", "seems", ...): stated flatly it is
unverifiable too (`_below_assertion`).

Each claim gets a verdict: `supported`, `contradicted` or `unverifiable` (the
fact is unknown, or the claim cannot be checked: nothing is assumed).
`release` keeps only the sentences whose every claim is supported. A sentence that attributes a value to a
tool or alternative ("madmom reports 71 BPM", "a candidate key") is checked
against `per_tool`, `tempo_alternatives` and `key_alternatives` instead.
Tolerances come from config (`Tolerances`). An item's factuality is the share
of checkable claims supported; `repair` removes contradicting sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from text_to_num import alpha2digit

from musicflamingo.data import known
from musicflamingo.data import vocabulary as vocab
from musicflamingo.data.structured import instrument_aliases, stated_chords, stated_keys, stated_meters, stated_tempi
from musicflamingo.mir.harte import root_and_quality
from musicflamingo.pitch import PITCH_CLASSES, pitch_class


@dataclass(frozen=True)
class Tolerances:
    """How far a stated value may be from the fact and still count as supported."""

    bpm_relative: float = 0.04      # 4 % of the tempo
    time_s: float = 1.5             # times, section boundaries, chord and word positions
    lufs: float = 1.5               # loudness in LU
    min_factuality: float = 1.0     # items below this are dropped (or repaired, when allowed)

    @classmethod
    def from_cfg(cls, cfg: Mapping | None) -> "Tolerances":
        if not cfg:
            return cls()
        return cls(**{k: float(v) for k, v in dict(cfg).items() if k in cls.__dataclass_fields__})


@dataclass
class Verdict:
    claim: str
    kind: str
    verdict: str  # supported | contradicted | unverifiable
    reason: str = ""


# ------------------------------------------------------------------ patterns

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'0-9])|(?<=;)\s+|\n+")
_MMSS_RE = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?:\.(\d))?(?![\d:])")
_SECONDS_RE = re.compile(r"(?<![\w.:])(\d{1,4}(?:\.\d+)?)\s*(?:s|sec|secs|seconds)\b")
_LUFS_RE = re.compile(r"(-\d{1,2}(?:\.\d+)?)\s*LUFS\b", re.I)
_ATTRIBUTED_RE = re.compile(
    r"\b(madmom|essentia|chordino|librosa|tool|tools|tracker|estimator|estimators|alternative|alternatives|"
    r"candidate|candidates|disagree|disagrees|disagreement|reading|readings|one analysis|another analysis)\b", re.I)
_NEGATED_VOCALS_RE = re.compile(r"\b(?:no|without|absence of)\s+(?:\w+\s+)?(?:vocals?|voices?|singing|singers?|lyrics)\b|\binstrumental\b"
                                r"|\b(?:no\s*one|nobody|none)\s+(?:\w+\s+)?(?:sings?|is\s+singing)\b|\bnot\s+(?:\w+\s+)?sung\b|\bnever\s+sung\b", re.I)
_VOCALS_RE = re.compile(r"\b(?:vocals?|vocalists?|singers?|sung|sings?|singing|soprano|alto|tenor|baritone|mezzo-soprano|rappers?|rapping|raps|duet|crooner|croons)\b"
                        r"(?![\s-]+(?:tone|quality|timbre|line|melody|style|lines|phrases|bass|sax|saxophones?|recorders?|clef|horns?|flutes?|"
                        r"trombones?|parts?|voices?|range|register)\b)", re.I)
# A quote mark, not an apostrophe: no letter right before the opening mark or right after the closing one.
_QUOTED_RE = re.compile(r"(?<![A-Za-z])[\"“‘']([A-Za-z][A-Za-z'\-]{0,30})[\"”’'](?![A-Za-z])")
_LYRIC_MENTION_RE = re.compile(r"\blyrics?\s+(?:mention|include|contain|repeat|feature)\w*\s+(?:the\s+words?\s+)?([A-Za-z][A-Za-z'\-]+)"
                               r"|\bthe\s+word\s+([A-Za-z][A-Za-z'\-]+)(?=\s+(?:is|was|gets|comes|appears|recurs|returns))", re.I)
_LYRIC_CONTEXT_RE = re.compile(r"\b(?:word|words|lyric|lyrics|sung|sings|sing)\b", re.I)
_SECTION_LETTER_RE = re.compile(r"\b(?:section|part)\s+([A-H])\b|\b([A-H])\s+(?:section|part)\b")
_SECTION_WORDS = ("intro", "verse", "chorus", "pre-chorus", "refrain", "bridge", "outro", "coda", "interlude",
                  "breakdown", "solo")
_SECTION_WORD_RE = re.compile(r"\b(" + "|".join(map(re.escape, _SECTION_WORDS)) + r")s?\b", re.I)
_METER_HINT_RE = re.compile(r"meter|metre|time\b|waltz|duple|triple|quadruple|breve|-four|-eight", re.I)
_YES_NO_RE = re.compile(r"^\W*(?:is|are|does|do|did|was|were|can|could|has|have|will|would)\b", re.I)
_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12}
_SECTION_COUNT_RE = re.compile(r"\b(\d{1,2}|" + "|".join(_COUNT_WORDS) + r")\s+(?:distinct\s+|contrasting\s+|formal\s+)?sections\b", re.I)
# Instrument nouns that are unambiguous in a music description ("bass" and "keys" are not: bass line, key).
INSTRUMENT_NOUNS = (
    "piano", "synthesizer", "synth", "organ", "harpsichord", "celesta", "guitar", "violin", "fiddle", "viola",
    "cello", "double bass", "contrabass", "harp", "banjo", "mandolin", "ukulele", "lute", "sitar", "erhu", "pipa",
    "guzheng", "koto", "shamisen", "oud", "flute", "piccolo", "recorder", "clarinet", "oboe", "bassoon",
    "saxophone", "harmonica", "accordion", "bagpipes", "tin whistle", "trumpet", "trombone", "french horn", "tuba",
    "drums", "drum kit", "percussion", "timpani", "cymbals", "marimba", "xylophone", "vibraphone", "glockenspiel",
    "tabla", "choir", "string ensemble", "strings", "brass section", "electric guitar", "bass guitar",
)
_INSTRUMENT_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, INSTRUMENT_NOUNS), key=len, reverse=True)) + r")s?(?![\w-])", re.I)
_GENRE_TERMS_RE = re.compile(r"\bfiddle[\s-]+(?:tunes?|music|traditions?)\b|\bpiano[\s-]+rolls?\b|\borgan[\s-]+points?\b", re.I)
_INSTRUMENT_NEGATION_RE = re.compile(r"\b(?:no|without|absence of|not)\s+(?:\w+\s+){0,2}$", re.I)

_KEY_PHRASE_RE = re.compile(r"\b[A-G](?:#|b|♯|♭)?[\s-]+(?:major|minor)\b(?!\s+(?:chord|triad)s?\b)")

_CHORD_NAME = r"[A-G](?:#|b)?(?:maj7|m7b5|m7|m6|maj|min|m|dim7|dim|aug|sus2|sus4|7|6)?"
_CHORD_AFTER_RE = re.compile(r"\bchords?\s+(?:is\s+|are\s+|of\s+|on\s+|was\s+)?(" + _CHORD_NAME + r"(?:\s*(?:,|and|then|to)\s*" + _CHORD_NAME + r")*)(?![\w#])")


def _harte(name: str) -> str:
    from musicflamingo.mir.harte import to_harte

    try:
        return to_harte(name.replace("maj", "maj7") if name.endswith("maj") else name.replace("min", "m"))
    except (ValueError, KeyError):
        return "N"


_FAMILY = {"maj": "maj", "maj7": "maj", "maj6": "maj", "7": "maj", "9": "maj", "min": "min", "min7": "min", "min6": "min",
           "minmaj7": "min", "dim": "dim", "dim7": "dim", "hdim7": "dim", "aug": "aug", "sus2": "sus", "sus4": "sus"}


def chord_id(harte: str) -> tuple[int, str] | None:
    """(root pitch class, triad family) of a Harte label; the family is what a caption can name."""
    rq = root_and_quality(harte)
    if rq is None:
        return None
    return pitch_class(rq[0]), _FAMILY.get(rq[1], "maj")


def _key_id(key: str | None) -> tuple[int, str] | None:
    if not key or " " not in key:
        return None
    tonic, mode = key.split(" ", 1)
    try:
        return pitch_class(tonic), mode.strip().lower()
    except (KeyError, IndexError):
        return None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]


# Durations and intervals ("lasting 34 seconds", "0.43 seconds apart") are not points in time.
_DURATION_RE = re.compile(r"\b(?:lasts?|lasting|for|spans?|spanning|of|about|roughly|every)\s+\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds)\b"
                          r"|\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds)\s+(?:apart|long|later|earlier|each|per)\b", re.I)


def _timed(sentence: str) -> list[tuple[int, float]]:
    """(position, seconds) of every point in time the sentence states."""
    if not _DIGIT_RE.search(sentence):
        return []
    sentence = _DURATION_RE.sub(lambda m: " " * len(m.group(0)), sentence)
    out = [(m.start(), int(m.group(1)) * 60 + int(m.group(2)) + (int(m.group(3)) / 10 if m.group(3) else 0.0)) for m in _MMSS_RE.finditer(sentence)]
    out += [(m.start(), float(m.group(1))) for m in _SECONDS_RE.finditer(sentence)]
    return sorted(out)


_DIGIT_RE = re.compile(r"\d")


def _times(sentence: str) -> list[float]:
    return [t for _, t in _timed(sentence)]


# ------------------------------------------------------------------ the facts, indexed once per track

@dataclass
class FactIndex:
    """What the checker compares against, precomputed from one track's facts and tags."""

    tempo: float | None
    tempo_alternatives: list[float]
    key: tuple[int, str] | None
    section_keys: set[tuple[int, str]]
    key_alternatives: set[tuple[int, str]]
    meter: str | None
    chords: list[tuple[float, float, tuple[int, str]]]
    chord_set: set[tuple[int, str]]
    tool_chord_set: set[tuple[int, str]]
    duration: float
    sections: list[tuple[float, float, str]] | None
    instruments: list[str] | None
    instrument_aliases: set[str]
    vocals: bool | None
    lyric_words: set[str] | None
    words: list[tuple[float, float, str]]
    lufs: float | None
    segment_tempi: list[tuple[float, float, float]] = field(default_factory=list)  # per 30 s window
    segment_lufs: list[tuple[float, float, float]] = field(default_factory=list)   # per 30 s window
    genre_phrases: list[str] = field(default_factory=list)  # catalogue genre text, masked before instrument checks
    section_key_spans: list[tuple[float, float, tuple[int, str]]] = field(default_factory=list)
    numerals: set[str] | None = None  # triad Roman numerals of the chords in the key (and section keys)
    hedged: frozenset[str] = frozenset()  # fact kinds in the hedge band (data.known.gate): supported only when hedged
    hedged_instruments: set[str] = field(default_factory=set)  # names/aliases of the tagger's hedge-band instruments

    @classmethod
    def build(cls, facts: Mapping, tags: Mapping | None = None) -> "FactIndex":
        tags = tags or {}
        per_tool = facts.get("per_tool") or {}
        tempo = known.tempo(facts)  # None, 0 and non-finite all mean "no tempo" (data.known)
        alts = [float(x) for x in (facts.get("tempo_alternatives") or []) if x]
        alts += [float(v["tempo_bpm"]) for v in per_tool.values() if isinstance(v, Mapping) and v.get("tempo_bpm")]
        key_alts = {_key_id(k[0] if isinstance(k, (list, tuple)) else k) for k in (facts.get("key_alternatives") or [])}
        key_alts |= {_key_id(v.get("key")) for v in per_tool.values() if isinstance(v, Mapping) and v.get("key")}
        chords = [(float(s), float(e), cid) for s, e, lab in (facts.get("chords") or []) if (cid := chord_id(lab))]
        tool_chords = {cid for v in per_tool.values() if isinstance(v, Mapping) for _, _, lab in (v.get("chords") or []) if (cid := chord_id(lab))}
        sections = facts.get("sections")
        instruments = tags.get("instruments") or [t[0] for t in facts.get("instruments") or []] or None  # catalogue, else the tagger's
        aliases = {a for name in instruments or [] for a in instrument_aliases(name)}
        aliases |= vocab.supported_names(list(instruments or []))
        maybe = [row[0] for row in known.hedged_items(facts, "instruments")] if not tags.get("instruments") else []
        sure_aliases = {a for name in instruments or [] if name not in maybe for a in instrument_aliases(name)} | vocab.supported_names(
            [n for n in instruments or [] if n not in maybe])
        hedged_instruments = {a for name in maybe for a in instrument_aliases(name)} | vocab.supported_names(maybe)
        lyrics = facts.get("lyrics")
        words = [(float(s), float(e), str(w)) for s, e, w in (facts.get("words") or [])]
        lyric_words = None
        if lyrics is not None or words:
            lyric_words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", (lyrics or "") + " " + " ".join(w for _, _, w in words))}
        vocals = facts.get("vocals")
        if vocals is None and lyric_words:
            vocals = True
        return cls(
            tempo=tempo,
            tempo_alternatives=alts,
            key=_key_id(facts.get("key")),
            section_keys={k for _, _, key in (facts.get("section_keys") or []) if (k := _key_id(key))},
            key_alternatives={k for k in key_alts if k},
            meter=known.meter(facts),
            chords=chords,
            chord_set={c for _, _, c in chords},
            tool_chord_set=tool_chords,
            duration=float(facts.get("duration_s") or 0.0),
            sections=[(float(s), float(e), str(lab)) for s, e, lab in sections] if sections else None,
            instruments=list(instruments) if instruments else None,
            instrument_aliases=aliases,
            vocals=None if vocals is None else bool(vocals),
            lyric_words=lyric_words,
            words=words,
            lufs=known.number(facts, "loudness_lufs"),
            segment_tempi=[(float(g["start_s"]), float(g["end_s"]), float(g["tempo_bpm"])) for g in facts.get("segments") or []
                           if g.get("tempo_bpm") and g.get("start_s") is not None and g.get("end_s") is not None],
            segment_lufs=[(float(g["start_s"]), float(g["end_s"]), float(g["loudness_lufs"])) for g in facts.get("segments") or []
                          if g.get("loudness_lufs") is not None and g.get("start_s") is not None and g.get("end_s") is not None],
            genre_phrases=[str(tags[k]) for k in ("tradition", "genre", "title") if tags.get(k)],
            section_key_spans=[(float(a), float(b), k) for a, b, key in (facts.get("section_keys") or []) if (k := _key_id(key))],
            numerals=_numerals(facts),
            hedged=frozenset(k for k in known.CONFIDENCE_FIELDS if known.hedged(facts, k)),
            hedged_instruments=hedged_instruments - sure_aliases,
        )

    @property
    def genre_text(self) -> str | None:
        return " ".join(self.genre_phrases) or None


def _numerals(facts: Mapping) -> set[str] | None:
    from musicflamingo.data import theory as th

    key = known.key(facts)
    if not facts.get("chords") or key is None:
        return None
    keys = {key} | {k for _, _, k in known.section_keys(facts)}  # only keys that are known
    try:
        return {th.triad_numeral(th.roman(c, k)) for c in th.chords_of(facts) for k in keys}
    except (KeyError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------ per-kind checks

def _v(claim: str, kind: str, ok: bool | None, reason: str = "") -> Verdict:
    verdict = "unverifiable" if ok is None else ("supported" if ok else "contradicted")
    return Verdict(claim, kind, verdict, "" if ok else reason)


def _check_tempo(s: str, times: list[float], fx: FactIndex, tol: Tolerances, attributed: bool) -> Iterable[Verdict]:
    # "120 BPM", "120-125 bpm", "a tempo of about 140", "♩ = 140" (the same readings as the structured reward).
    for lo, hi in dict.fromkeys(stated_tempi(s)):
        claim = f"{lo:g} BPM" if lo == hi else f"{lo:g}-{hi:g} BPM"
        if fx.tempo is None:
            yield _v(claim, "tempo", None)
            continue
        candidates = [fx.tempo] + (fx.tempo_alternatives if attributed else [])
        if times:  # a window's own tempo may differ from the track's
            candidates += [bpm for a, b, bpm in fx.segment_tempi if any(a - tol.time_s <= t <= b + tol.time_s for t in times)]
        ok = any(lo * (1 - tol.bpm_relative) <= c <= hi * (1 + tol.bpm_relative) for c in candidates)
        ratio = (lo + hi) / 2 / fx.tempo
        why = "double/half tempo" if min(abs(ratio - 2), abs(ratio - 0.5)) < 0.1 else f"tempo is {fx.tempo:.0f} BPM"
        yield _v(claim, "tempo", ok, why)


_NEGATED_KEY_RE = re.compile(r"\b(?:not|rather than|instead of|never|unlike|no longer|isn't|is not)\s+(?:in\s+)?(?:the\s+)?(?:key\s+of\s+)?"
                             r"[A-G](?:#|b|♯|♭)?[\s-]+(?:major|minor)\b", re.I)


def _check_key(s: str, fx: FactIndex, attributed: bool) -> Iterable[Verdict]:
    # "not in C major" / "rather than C major" denies a key: true only when the piece is in it nowhere.
    for m in _NEGATED_KEY_RE.finditer(s):
        for pc, mode in stated_keys(m.group(0)):
            ok = None if fx.key is None else (pc, mode) != fx.key and (pc, mode) not in fx.section_keys
            yield _v(f"not {PITCH_CLASSES[pc]} {mode}", "key", ok, f"key is {PITCH_CLASSES[fx.key[0]]} {fx.key[1]}" if fx.key else "")
    s = _MODULATION_RE.sub(" ", s)  # a key reached by modulating is the modulation check's
    keys = {fx.key} | fx.section_keys if fx.key else set()
    for m in _BARE_TONIC_RE.finditer(s):  # "It is in F." names a tonic without a mode
        pc = pitch_class(m.group(1).replace("♯", "#").replace("♭", "b"))
        yield _v(f"tonic {m.group(1)}", "key", None if fx.key is None else any(k[0] == pc for k in keys), f"key is {PITCH_CLASSES[fx.key[0]]} {fx.key[1]}" if fx.key else "")
    for m in _MODE_ONLY_RE.finditer(s):  # "a minor key", "the tonality is major"
        mode = (m.group(1) or m.group(2)).lower()
        yield _v(f"{mode} mode", "key", None if fx.key is None else any(k[1] == mode for k in keys), f"key is {PITCH_CLASSES[fx.key[0]]} {fx.key[1]}" if fx.key else "")
    for pc, mode in dict.fromkeys(stated_keys(_NEGATED_KEY_RE.sub(" ", s))):
        claim = f"{PITCH_CLASSES[pc]} {mode}"
        if fx.key is None:
            yield _v(claim, "key", None)
            continue
        allowed = {fx.key} | fx.section_keys | (fx.key_alternatives if attributed else set())
        yield _v(claim, "key", (pc, mode) in allowed, f"key is {PITCH_CLASSES[fx.key[0]]} {fx.key[1]}")


# "It is in F." / "the tonic is F" (not "the chord is F": a chord is the chord check's).
_BARE_TONIC_RE = re.compile(r"(?<!chord )(?<!chords )\b(?:in|centred on|centered on|tonic is|tonic of|home key is)\s+([A-G](?:#|b|♯|♭)?)"
                            r"(?=\s*(?:[.,;:!?)]|$))")
# Case matters before the mode ("E minor key" names a key, "a minor key" only a mode).
_MODE_ONLY_RE = re.compile(r"(?<![A-G]\s)(?<![A-G][#b]\s)(?<![A-G]-)\b(?i:(major|minor)[\s-]+(?:key|mode|tonality|scale))\b"
                           r"|\b(?i:(?:tonality|mode)\s+is\s+(major|minor))\b")
_NEGATED_METER_RE = re.compile(r"\b(?:not|never|rather than|instead of|isn't)\s+(?:in\s+)?(?:\w+\s+)?(\d{1,2}/\d{1,2})", re.I)


def _check_meter(s: str, fx: FactIndex) -> Iterable[Verdict]:
    for m in _NEGATED_METER_RE.finditer(s):
        yield _v(f"not {m.group(1)}", "meter", None if fx.meter is None else fx.meter != m.group(1), f"meter is {fx.meter}")
    s = _NEGATED_METER_RE.sub(" ", s)
    for family in stated_meters(s):
        claim = "/".join(sorted(family)) if len(family) == 1 else f"one of {sorted(family)}"
        yield _v(claim, "meter", None if fx.meter is None else fx.meter in family, f"meter is {fx.meter}")


def _check_chords(s: str, times: list[float], fx: FactIndex, tol: Tolerances, attributed: bool) -> Iterable[Verdict]:
    # A key name ("in E major", "the relative minor, C# minor") is a key claim, not a chord claim.
    plain = _KEY_PHRASE_RE.sub(" ", s)
    stated = stated_chords(plain)
    # "the chord is C", "the chord C#m", "chords D and G": a bare name right after the word chord.
    for m in _CHORD_AFTER_RE.finditer(plain):
        for name in re.split(r"\s*(?:,|and|then|to)\s*", m.group(1)):
            if name and (cid := chord_id(_harte(name))):
                stated.add(cid)
    for cid in sorted(stated):
        name = PITCH_CLASSES[cid[0]] + {"maj": "", "min": "m"}.get(cid[1], cid[1])
        if not fx.chords:
            yield _v(name, "chord", None)
            continue
        if times:
            lo, hi = min(times) - tol.time_s, max(times) + tol.time_s
            near = {c for a, b, c in fx.chords if b >= lo and a <= hi}
            yield _v(name, "chord", cid in near or (attributed and cid in fx.tool_chord_set),
                     f"no {name} between {lo:.1f} s and {hi:.1f} s")
        else:
            yield _v(name, "chord", cid in fx.chord_set or (attributed and cid in fx.tool_chord_set), f"{name} never sounds")


def _check_times(s: str, times: list[float], fx: FactIndex, tol: Tolerances) -> Iterable[Verdict]:
    for t in times:
        if fx.duration <= 0:
            yield _v(f"{t:.1f} s", "time", None)
        else:
            yield _v(f"{t:.1f} s", "time", 0 <= t <= fx.duration + tol.time_s, f"track lasts {fx.duration:.1f} s")


def _labelled(s: str) -> list[tuple[int, str]]:
    """(position, label) of every section name in the sentence."""
    out = [(m.start(), m.group(1) or m.group(2)) for m in _SECTION_LETTER_RE.finditer(s)]
    out += [(m.start(), m.group(1).lower()) for m in _SECTION_WORD_RE.finditer(s)]
    return sorted(out)


def _section_labels(s: str) -> list[str]:
    return [lab for _, lab in _labelled(s)]


def _check_sections(s: str, fx: FactIndex, tol: Tolerances, timed: list[tuple[int, float]] | None = None) -> Iterable[Verdict]:
    for m in _SECTION_COUNT_RE.finditer(s):
        raw = m.group(1).lower()
        n = int(raw) if raw.isdigit() else _COUNT_WORDS[raw]
        yield _v(m.group(0), "sections", None if fx.sections is None else n == len(fx.sections), f"{len(fx.sections or [])} sections")
    labelled = _labelled(s)
    if not labelled:
        return
    if fx.sections is None:
        for _, label in labelled:
            yield _v(label, "section", None)
        return
    bounds: dict[str, list[float]] = {}
    for a, b, lab in fx.sections:
        bounds.setdefault(lab.lower(), []).extend((a, b))
    for label in dict.fromkeys(lab for _, lab in labelled):
        if label.lower() not in bounds:
            yield _v(label, "section", False, f"no section labelled {label!r}")
    # Each stated time belongs to the nearest section name before it (or the first one after it).
    for pos, t in (_timed(s) if timed is None else timed):
        before = [lab for p, lab in labelled if p < pos]
        label = before[-1] if before else labelled[0][1]
        own = bounds.get(label.lower())
        if own:
            yield _v(f"{label} @ {t:.1f} s", "section", any(abs(t - b) <= tol.time_s for b in own),
                     f"{label} boundaries are {', '.join(f'{b:.1f}' for b in own)} s")


# A negation within the few words before a mention: "there is no flute", "without any drums", "nor a harp".
_MENTION_NEGATED_RE = re.compile(r"\b(?:no|not|without|never|nor|neither|absence\s+of|absent|lacks?|lacking|free\s+of|none\s+of|nobody|no\s+one)"
                                 r"(?:\s+[\w'-]+){0,3}\s*$|n't(?:\s+[\w'-]+){0,3}\s*$", re.I)


def _check_instruments(s: str, fx: FactIndex) -> Iterable[Verdict]:
    for phrase in fx.genre_phrases:  # "Irish fiddle tune" names a genre, not an instrument
        s = s.replace(phrase, " ")
    s = _GENRE_TERMS_RE.sub(" ", s)
    for start, _end, name in vocab.instrument_mentions(s):
        negated = bool(_MENTION_NEGATED_RE.search(s[max(0, start - 40): start]))
        claim = f"no {name}" if negated else name
        if fx.instruments is None:
            yield _v(claim, "instrument", None)
            continue
        present = name in fx.instrument_aliases or any(name == inst.lower() for inst in fx.instruments)
        yield _v(claim, "instrument", present != negated,
                 f"instruments are {', '.join(fx.instruments)}")


def _check_genres(s: str, fx: FactIndex) -> Iterable[Verdict]:
    for phrase in fx.genre_phrases:
        s = s.replace(phrase, " ")
    for _start, _end, genre in vocab.genre_mentions(s):
        text = fx.genre_text
        yield _v(genre, "genre", None if text is None else vocab.genre_supported(genre, text), f"the catalogue says {text!r}")


_MODULATION_RE = re.compile(
    r"\b(?:modulat\w*|shift\w*|mov\w*|turn\w*|pivot\w*|swing\w*|chang\w*|go(?:es|ing)?|went|head\w*|switch\w*|veer\w*|"
    r"slip\w*|lift\w*|ris\w*|drift\w*|pass\w*|travel\w*|arriv\w*|settl\w*)\b[^.;]{0,40}?\b(?:to|into)\s+"
    r"(?:the\s+(?:key\s+of\s+|relative\s+\w+\s*,?\s*|dominant\s*,?\s*)?)?([A-G](?:#|b|♯|♭)?[\s-]+(?:major|minor))\b"
    r"|\b(?:key\s+change|modulation)\s+(?:\w+\s+){0,2}(?:to|into)\s+([A-G](?:#|b|♯|♭)?[\s-]+(?:major|minor))\b", re.I)
_NO_MODULATION_RE = re.compile(
    r"\b(?:never|not|doesn't|does\s+not|without|no)\s+(?:\w+\s+){0,2}(?:modulat\w*|key\s+changes?|change\w*\s+keys?)\b"
    r"|\bstays?\s+in\s+(?:the\s+)?(?:same|one|home|[A-G](?:#|b)?\s+(?:major|minor))\s*(?:key\s*)?(?:throughout|all\s+the\s+way|the\s+whole)", re.I)
_SOME_MODULATION_RE = re.compile(r"\b(?:modulat\w*|key\s+changes?|changes?\s+keys?|new\s+key)\b", re.I)
_KEY_WORDS_RE = re.compile(r"\b(?:major|minor|keys?|modulat\w*|tonal\w*|tonic)\b", re.I)


def _check_modulation(s: str, times: list[float], fx: FactIndex, tol: Tolerances) -> Iterable[Verdict]:
    """ "At 0:42 it modulates to F major": a section key F major that starts (near 0:42, if timed) after the opening key."""
    known = bool(fx.section_key_spans)
    for m in _NO_MODULATION_RE.finditer(s):
        yield _v("no modulation", "modulation", len({k for _, _, k in fx.section_key_spans}) <= 1 if known else None,
                 "the section keys change")
    if _SOME_MODULATION_RE.search(s) and not _MODULATION_RE.search(s) and not _NO_MODULATION_RE.search(s):
        # "It has a key change", "it modulates up a whole step": some modulation, target unstated.
        yield _v("modulates", "modulation", len({k for _, _, k in fx.section_key_spans}) > 1 if known else None, "one key throughout")
    for m in _MODULATION_RE.finditer(s):
        target = stated_keys(m.group(1) or m.group(2))
        if not target:
            continue
        pc, mode = sorted(target)[0]
        claim = f"modulates to {PITCH_CLASSES[pc]} {mode}"
        if not known:
            yield _v(claim, "modulation", None)
            continue
        starts = [a for k, (a, _b, key) in enumerate(fx.section_key_spans) if key == (pc, mode) and k > 0
                  and fx.section_key_spans[k - 1][2] != key]
        slack = max(tol.time_s, 3.0)
        ok = bool(starts) and (not times or any(abs(a - t) <= slack for a in starts for t in times))
        yield _v(claim, "modulation", ok, "no such modulation in the section keys")


_RELATIVE_TEMPO_RE = re.compile(
    r"\b(?:twice|half|double|triple|thrice|(?:two|three|four|\d+)\s+times)\s+(?:as\s+)?(?:fast|slow|quick|brisk|the\s+(?:speed|tempo|pace|rate))"
    r"|\bas\s+(?:fast|slow|quick|brisk)\s+as\b|\b(?:faster|slower|quicker)\s+than\b|\b(?:half|double)[\s-]time\b"
    # a change of tempo: no fact tracks it over time beyond the 30 s windows
    r"|\b(?:tempo|pace|pulse|beat)\b[^.;]{0,30}\b(?:doubles|halves|speeds?\s+up|slows?\s+down|accelerat\w*|quickens|drags|rushes)\b"
    r"|\b(?:accelerando|ritardando|rallentando|ritenuto)\b", re.I)


def _check_relative_tempo(s: str) -> Iterable[Verdict]:
    for m in _RELATIVE_TEMPO_RE.finditer(s):
        yield _v(m.group(0), "tempo", None)  # "twice as fast as a march": no fact says how fast a march is


_NUMERAL_RUN_RE = re.compile(r"(?<![\w#])((?:[b#]?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)[°ø+]?7?)(?:\s*[-–—]\s*[b#]?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)[°ø+]?7?)+)(?![\w#])")


def _check_numeral_runs(s: str, fx: FactIndex) -> Iterable[Verdict]:
    """ "a ii-V-I progression": each numeral must be one of the track's chords in its key."""
    from musicflamingo.data import theory as th

    for m in _NUMERAL_RUN_RE.finditer(s):
        if re.search(r"\b(?:no|not|without|never|nor|neither)\b", s[: m.start()], re.I):
            continue  # "no cadential V-I motion is found": a denial, not a claim that the chords are there
        run = [th.triad_numeral(x.strip()) for x in re.split(r"[-–—]", m.group(1))]
        yield _v(m.group(1), "numeral", None if fx.numerals is None else all(n in fx.numerals for n in run),
                 f"the chords give {', '.join(sorted(fx.numerals or []))}")


_LABEL_COUNT_RE = re.compile(r"\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|single)\s+(?:distinct\s+|separate\s+)?("
                             + "|".join(map(re.escape, _SECTION_WORDS)) + r")(?:s|es)?\b", re.I)


def _check_label_counts(s: str, fx: FactIndex) -> Iterable[Verdict]:
    """ "two verses": the number of sections with that label."""
    for m in _LABEL_COUNT_RE.finditer(s):
        raw = m.group(1).lower()
        n = 1 if raw == "single" else int(raw if raw.isdigit() else alpha2digit(raw, "en", threshold=0))
        label = m.group(2).lower()
        if fx.sections is None:
            yield _v(m.group(0), "sections", None)
            continue
        have = sum(lab.lower() == label for _, _, lab in fx.sections)
        yield _v(m.group(0), "sections", n == have, f"{have} sections labelled {label!r}")


_BEATS_PER_BAR_RE = re.compile(r"\b(\d{1,2})\s+beats?\s+(?:per|a|to\s+the|in\s+each|each)\s+(?:bar|measure)\b"
                               r"|\b(?:each|every|a)\s+(?:bar|measure)\s+(?:has|holds|contains|of)\s+(\d{1,2})\s+beats?\b"
                               r"|\bbars?\s+of\s+(\d{1,2})\s+beats?\b"
                               r"|\bevery\s+(\d{1,2})\s+beats\b|\bbeats\s+in\s+groups\s+of\s+(\d{1,2})\b", re.I)


def _check_beats_per_bar(s: str, fx: FactIndex) -> Iterable[Verdict]:
    for m in _BEATS_PER_BAR_RE.finditer(s):
        n = int(next(g for g in m.groups() if g))
        if fx.meter is None or "/" not in fx.meter:
            yield _v(m.group(0), "meter", None)
            continue
        top = int(fx.meter.split("/")[0])
        ok = n == top or (top in (6, 9, 12) and n == top // 3)  # compound meters count dotted beats too
        yield _v(m.group(0), "meter", ok, f"meter is {fx.meter}")


# Claims no fact can settle: an era or a date, a pitch a voice reaches, a key named only by its relation.
_UNCHECKABLE_RE = re.compile(r"\b\d+(?:st|nd|rd|th)[\s-]+century\b|\b(?:1[0-9]|20)\d0s\b|\b(?:high|low|top|bottom)\s+[A-G](?:#|b)?\b(?![\w#])"
                             r"|\b(?:relative|parallel)\s+(?:major|minor)\b(?!\s*,?\s*[A-G])|\b(?:dominant|subdominant|mediant)\s+key\b", re.I)


def _check_uncheckable(s: str) -> Iterable[Verdict]:
    for m in _UNCHECKABLE_RE.finditer(s):
        yield _v(m.group(0), "unverifiable", None)


_MINUTES_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:minutes?|mins?)\b", re.I)


def _check_duration(s: str, fx: FactIndex) -> Iterable[Verdict]:
    for m in _MINUTES_RE.finditer(s):
        n = float(m.group(1)) * 60
        if fx.duration <= 0 or _labelled(s):  # a section's length is not the track's
            yield _v(m.group(0), "duration", None)
        else:
            yield _v(m.group(0), "duration", abs(n - fx.duration) <= max(30.0, 0.25 * fx.duration), f"track lasts {fx.duration:.0f} s")


# Numbers every checker above reads (or that carry no fact); whatever number is left is an unverifiable claim.
_KNOWN_NUMBERS_RE = re.compile(
    r"(?<![\w.:])\d{1,2}:[0-5]\d(?:\.\d)?(?![\d:])"                                       # 1:30
    r"|\d+(?:\.\d+)?\s*(?:[-–]|to)\s*\d+(?:\.\d+)?\s*(?=s\b|sec|seconds|bpm|BPM|beats)"      # ranges
    r"|\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds|minutes?|mins?|bpm|b\.p\.m\.|beats?\s+(?:per|a|each)\s+minute|LUFS|LU|dB|Hz|kHz|%|percent)\b"
    r"|(?:tempo|♩|m\.m\.)\s*(?:of|=|is|around|about|near|roughly|~|at|\s)*\d+(?:\.\d+)?"
    r"|\b\d{1,2}/\d{1,2}\b"                                                                  # meter
    r"|(?<![\w#])[A-G](?:#|b|♯|♭)?(?::?\(?(?:maj|min|m|dim|aug|sus|add|hdim|M)?\d+\)?)+(?:/[\w#]+)?"  # B7, Cmaj7, C:min7
    r"|(?<![\w])[b#]?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)[°ø+]?\d+"                  # V7, ii7
    r"|\b\d+(?:st|nd|rd|th)\b"                                                                # ordinals
    r"|\bfactor\s+of\s+\d+(?:\.\d+)?"                          # how far the MCQ distractors sit from the answer
    r"|\b\d{1,2}\s+(?:distinct\s+|contrasting\s+|formal\s+)?sections\b"
    r"|\b\d{1,2}\s+beats?\s+(?:per|a|to\s+the|in\s+each|each)\s+(?:bar|measure)\b|\b(?:bar|measure)s?\s+(?:has|holds|contains|of)\s+\d{1,2}\s+beats?\b"
    r"|\bevery\s+\d{1,2}\s+beats\b|\bbeats\s+in\s+groups\s+of\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(?:distinct\s+|separate\s+)?(?:intro|verse|chorus|pre-chorus|refrain|bridge|outro|coda|interlude|breakdown|solo)(?:s|es)?\b", re.I)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")


def _check_numbers(s: str) -> Iterable[Verdict]:
    for m in _NUMBER_RE.finditer(_KNOWN_NUMBERS_RE.sub(" ", s)):
        yield _v(m.group(0), "number", None)


_MINUS_RE = re.compile(r"\bminus\s+(?=\d)", re.I)
_MINUS_WORDS_RE = re.compile(r"\bminus\s+([a-z][a-z\s-]*?)(?=\s*(?:LUFS|LU|dB|decibels)\b)", re.I)


def normalise_numbers(s: str) -> str:
    """Numbers in words as digits ("a hundred and twenty" -> "a 120", "minus nine" -> "-9"), via text2num."""
    # "minus one LUFS": a lone small number is left in words by text2num's default threshold; a level is a number.
    s = _MINUS_WORDS_RE.sub(lambda m: "-" + alpha2digit(m.group(1), "en", threshold=0), s)
    if re.search(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
                 r"eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)\b", s, re.I):
        s = alpha2digit(s, "en")
    return _MINUS_RE.sub("-", s)


def _check_vocals(s: str, times: list[float], fx: FactIndex, tol: Tolerances) -> Iterable[Verdict]:
    if _NEGATED_VOCALS_RE.search(s):
        yield _v("instrumental", "vocals", None if fx.vocals is None else not fx.vocals, "the track has vocals")
    elif _VOCALS_RE.search(s):
        yield _v("vocals", "vocals", None if fx.vocals is None else fx.vocals, "the track is instrumental")
    if not _LYRIC_CONTEXT_RE.search(s):
        return
    quoted = [m.group(1) for m in _QUOTED_RE.finditer(s)] or [m.group(1) or m.group(2) for m in _LYRIC_MENTION_RE.finditer(s)]
    for word in quoted:
        word = word.lower()
        if fx.lyric_words is None:
            yield _v(word, "lyric", None)
        elif times and fx.words:
            lo, hi = min(times) - tol.time_s, max(times) + tol.time_s
            yield _v(word, "lyric", any(w.lower().strip(".,!?") == word and b >= lo and a <= hi for a, b, w in fx.words),
                     f"{word!r} is not sung near {min(times):.1f} s")
        else:
            yield _v(word, "lyric", word in fx.lyric_words, f"{word!r} is not in the lyrics")


_NUMERAL_PAIR_RE = re.compile(r"(?<![\w#])(" + _CHORD_NAME + r")\s*\((?:the\s+)?([b#]?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?:°7|ø7|°|\+|maj7|7|6)?)(?=[,)\s])")


def _check_numerals(s: str, fx: FactIndex, key: str | None) -> Iterable[Verdict]:
    """ "B7 (V7)": the Roman numeral a chord is given must be its numeral in the key (or in a section key)."""
    from musicflamingo.data import theory as th

    for m in _NUMERAL_PAIR_RE.finditer(s):
        harte = _harte(m.group(1))
        rq = root_and_quality(harte)
        if rq is None or key is None:
            continue
        chord = th.Chord(0.0, 0.0, harte, m.group(1), pitch_class(rq[0]), rq[1])
        keys = [key] + [f"{PITCH_CLASSES[k[0]]} {k[1]}" for k in fx.section_keys]
        ok = any(th.triad_numeral(th.roman(chord, k)) == th.triad_numeral(m.group(2)) for k in keys)
        yield _v(f"{m.group(1)} ({m.group(2)})", "numeral", ok, f"{m.group(1)} is {th.roman(chord, key)} in {key}")


def _check_loudness(s: str, times: list[float], fx: FactIndex, tol: Tolerances) -> Iterable[Verdict]:
    # A sentence that names times ("from 1:00 to 1:30 ... -20 LUFS") may state that window's own level.
    windows = [lufs for a, b, lufs in fx.segment_lufs if any(a - tol.time_s <= t <= b + tol.time_s for t in times)] if times else []
    for m in _LUFS_RE.finditer(s):
        stated = float(m.group(1))
        if fx.lufs is None and not windows:
            yield _v(m.group(0), "loudness", None)
            continue
        ok = any(abs(stated - ref) <= tol.lufs for ref in ([fx.lufs] if fx.lufs is not None else []) + windows)
        yield _v(m.group(0), "loudness", ok, f"loudness is {fx.lufs} LUFS")


# ------------------------------------------------------------------ public API

_WORD_RE = re.compile(r"[a-z]+")
# First words of the claim vocabularies: a sentence without any of them skips that checker (speed only).
_INSTRUMENT_HEADS = frozenset(w for n in INSTRUMENT_NOUNS for w in _WORD_RE.findall(n)) | {n + "s" for n in INSTRUMENT_NOUNS}
_SECTION_HEADS = frozenset(_SECTION_WORDS) | {w + "s" for w in _SECTION_WORDS} | {"section", "sections", "part", "pre"}
_VOCAL_HEADS = frozenset({"vocal", "vocals", "vocalist", "vocalists", "singer", "singers", "sung", "sings", "singing", "sing",
                          "rapper", "rappers", "rapping", "raps", "duet", "crooner", "croons",
                          "instrumental", "voice", "voices", "word", "words", "lyric", "lyrics", "soprano", "alto", "tenor", "baritone"})
_CHORD_HINT_RE = re.compile(r"(?<![\w'])[A-G](?:#|b|♯|♭)?(?:maj|min|m|dim|aug|sus|hdim)?\d*(?:b\d)?(?::\w+)?(?:/[\w#]+)?(?![\w'])")


def check_sentence(s: str, fx: FactIndex, tol: Tolerances, strict: bool = True) -> list[Verdict]:
    """Verdicts for one sentence. `strict`: a number no checker reads is an unverifiable claim (for model-written
    text); the built-in writer computes every number it states from the facts, so its text is checked with strict=False."""
    s = normalise_numbers(s)
    timed = _timed(s)
    times = [t for _, t in timed]
    if s.rstrip().endswith("?") and _YES_NO_RE.match(s):
        # "Is it in D major?" asserts nothing but the times it names.
        return list(_check_times(s, times, fx, tol))
    low = s.lower()
    words = set(_WORD_RE.findall(low))
    attributed = bool(_ATTRIBUTED_RE.search(s))
    out: list[Verdict] = []
    if "bpm" in low or "beats" in low or "tempo" in low or "♩" in s or "=" in s or "m.m" in low:
        out += _check_tempo(s, times, fx, tol, attributed)
    out += _check_relative_tempo(s)
    if words & {"major", "minor", "maj", "min", "key", "tonality", "mode", "tonic"} or _BARE_TONIC_RE.search(s):
        out += _check_key(s, fx, attributed)
    if _KEY_WORDS_RE.search(s):
        out += _check_modulation(s, times, fx, tol)
    if "/" in s or _METER_HINT_RE.search(s):
        out += _check_meter(s, fx)
    if "chord" in low or any(m.start() > 0 or m.group(0) != "A" for m in _CHORD_HINT_RE.finditer(s)):
        out += _check_chords(s, times, fx, tol, attributed)
    out += _check_times(s, times, fx, tol)
    if words & _SECTION_HEADS:
        out += _check_sections(s, fx, tol, timed)
    out += _check_instruments(s, fx)
    out += _check_genres(s, fx)
    out += _check_numeral_runs(s, fx)
    out += _check_uncheckable(s)
    if "beat" in low:
        out += _check_beats_per_bar(s, fx)
    if words & _SECTION_HEADS:
        out += _check_label_counts(s, fx)
    if words & _VOCAL_HEADS:
        out += _check_vocals(s, times, fx, tol)
    if "lufs" in low:
        out += _check_loudness(s, times, fx, tol)
    if "min" in low:
        out += _check_duration(s, fx)
    if "(" in s and fx.key is not None:
        out += _check_numerals(s, fx, f"{PITCH_CLASSES[fx.key[0]]} {fx.key[1]}")
    if strict and _DIGIT_RE.search(s):
        out += _check_numbers(s)
    return _below_assertion(out, s, fx)


# Checker claim kind -> the fact kind whose confidence it rests on (data.known.CONFIDENCE_FIELDS).
_FACT_KIND = {"tempo": "tempo", "key": "key", "modulation": "key", "meter": "meter", "chord": "chords", "numeral": "chords", "vocals": "vocals"}


def _below_assertion(verdicts: list[Verdict], s: str, fx: FactIndex) -> list[Verdict]:
    """A claim supported only by a hedge-band fact is unverifiable unless the sentence hedges it."""
    if (not fx.hedged and not fx.hedged_instruments) or known.HEDGE_RE.search(s):
        return verdicts
    out = []
    for v in verdicts:
        weak = v.verdict == "supported" and (_FACT_KIND.get(v.kind) in fx.hedged
                                             or (v.kind == "instrument" and v.claim.lower() in fx.hedged_instruments))
        out.append(Verdict(v.claim, v.kind, "unverifiable", "fact below the assertion threshold, stated without a hedge") if weak else v)
    return out


def check_text(text: str, facts: Mapping | FactIndex, tags: Mapping | None = None, tol: Tolerances | None = None,
               bpm_tolerance: float | None = None, strict: bool = True) -> list[Verdict]:
    """Verdicts for every claim in `text`. `facts` may be a prebuilt `FactIndex` (faster for many texts)."""
    tol = tol or Tolerances()
    if bpm_tolerance is not None:
        tol = Tolerances(**{**asdict(tol), "bpm_relative": bpm_tolerance})
    fx = facts if isinstance(facts, FactIndex) else FactIndex.build(facts, tags)
    return [v for s in sentences(text) for v in check_sentence(s, fx, tol, strict)]


def score(verdicts: list[Verdict]) -> float:
    """Share of checkable claims that are supported (1.0 when nothing is checkable)."""
    checkable = [v for v in verdicts if v.verdict != "unverifiable"]
    return 1.0 if not checkable else sum(v.verdict == "supported" for v in checkable) / len(checkable)


def contradicted(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.verdict == "contradicted"]


def blocking(verdicts: list[Verdict]) -> list[Verdict]:
    """The claims that keep a sentence from release: contradicted or unverifiable (nothing is assumed true)."""
    return [v for v in verdicts if v.verdict != "supported"]


def release(text: str, fx: FactIndex, tol: Tolerances | None = None, strict: bool = True) -> tuple[str, list[str]]:
    """(the sentences whose every claim the facts support, joined; the sentences withheld)."""
    tol = tol or Tolerances()
    kept, withheld = [], []
    for sent in sentences(text):
        (withheld if blocking(check_sentence(sent, fx, tol, strict)) else kept).append(sent)
    return " ".join(kept), withheld


def repair(text: str, fx: FactIndex, tol: Tolerances | None = None, min_kept: float = 0.7, strict: bool = True) -> str | None:
    """Drop the sentences the facts do not support (contradicted or unverifiable); None when too little would be left."""
    tol = tol or Tolerances()
    parts = sentences(text)
    kept = [s for s in parts if not blocking(check_sentence(s, fx, tol, strict))]
    if not parts or len(kept) / len(parts) < min_kept:
        return None
    return " ".join(kept)


def as_dicts(verdicts: list[Verdict]) -> list[dict]:
    return [asdict(v) for v in verdicts]


@dataclass
class Report:
    """Running statistics of a filtering pass (written as `factcheck_report.json`)."""

    items: int = 0
    kept: int = 0
    repaired: int = 0
    dropped: int = 0                                          # checked and dropped by the fact check (or the judge)
    writer_errors: int = 0                                    # never checked: transport, format or validation errors
    claims: Counter = field(default_factory=Counter)          # (kind, verdict) -> n
    drop_reasons: Counter = field(default_factory=Counter)
    writer_error_reasons: Counter = field(default_factory=Counter)
    factuality: list[float] = field(default_factory=list)

    def writer_error(self, reason: str) -> None:
        """An item the writer never delivered: counted apart, and no factuality is reported for it."""
        self.writer_errors += 1
        self.writer_error_reasons[reason] += 1

    def add(self, verdicts: list[Verdict], outcome: str, reason: str | None = None) -> None:
        self.items += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.factuality.append(score(verdicts))
        for v in verdicts:
            self.claims[f"{v.kind}:{v.verdict}"] += 1
        if reason:
            self.drop_reasons[reason] += 1

    def reclassify(self, old: str, new: str, reason: str) -> None:
        """An item already counted as `old` ends as `new` (e.g. kept by the rules, failed by the LLM judge)."""
        setattr(self, old, getattr(self, old) - 1)
        setattr(self, new, getattr(self, new) + 1)
        self.drop_reasons[reason] += 1

    def as_dict(self) -> dict:
        f = sorted(self.factuality)
        return {
            "items": self.items, "kept": self.kept, "repaired": self.repaired, "dropped": self.dropped,
            "writer_errors": self.writer_errors,
            "mean_factuality": round(sum(f) / len(f), 4) if f else None,  # over checked items only
            "claims": dict(sorted(self.claims.items())), "drop_reasons": dict(self.drop_reasons.most_common()),
            "writer_error_reasons": dict(self.writer_error_reasons.most_common()),
        }
