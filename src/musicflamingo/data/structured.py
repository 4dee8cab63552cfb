"""Structured ground truth for a track and the structured-thinking match.

Music Flamingo's structured-thinking reward (paper, GRPO section) builds a
structured ground truth per track with the categories in `CATEGORIES`,
string-matches the generated caption against each category, and normalises
by the number of categories. Here the ground truth comes from our MIR facts
and catalogue tags instead of an LLM, so a category we do not know stays
`None` and is left out of the denominator: nothing is invented.

    truth = structured_truth(facts, tags)         # {category: str | None}
    match_category("Key", truth["Key"], caption)  # True / False / None (unknown)
    structured_reward(caption, truth)             # matched / known, in [0, 1]
    mentions_category("BPM", caption)             # the caption states *some* BPM

Truth values are plain strings (they are printed in reports and fed to the
LLM judge); `match_category` parses them back. Formats:

    Genre            tags["tradition"] (else tags["genre"]), e.g. "Bach chorale"
    BPM              "139.5"                    (facts.tempo_bpm > 0)
    Key              "D major"                  (facts.key, spelling normalised)
    Meter            "4/4"                      (facts.time_signature)
    Structure        "intro - verse - chorus"   (facts.sections labels, in order)
    Instruments      "violin, string ensemble"  (tags.instruments)
    Vocal Character  facts.vocals (text, list, dict of texts; False -> "instrumental")
    Lyric Themes     facts.lyric_themes, else facts.lyrics (the transcript)
    Theory           "D, A, G, Bm"              (the THEORY_TOP_K chords with most
                                                 total duration, no-chord excluded)
    Mix Notes        facts.mix_notes (text), else "bright spectrum, compressed dynamic range"
                     from facts.brightness_hz and facts.loudness_range_lu (both needed)
    Dynamics         "-14.2 LUFS" (facts.loudness_lufs), else facts.dynamics (text)

Matching rules (`match_category`), all case-insensitive unless said:

- BPM: some tempo the caption states ("139 BPM", "120-125 bpm", "tempo of
  about 140", "♩ = 140") lies within `BPM_TOLERANCE` (4 %) of the truth, or a
  stated range contains it. Double/half tempo is wrong.
- Key: a stated key ("in D major", "D-major", "D maj", "Eb minor", "E-flat
  minor", "key of D" = major) with the same pitch class (enharmonics equal)
  and mode. "D major chord" is a chord, not a key.
- Meter: "4/4", "four-four", "common time" (4/4), "cut time"/"alla breve"
  (2/2), "waltz time" (3/4), "triple/duple/quadruple meter" (the simple and
  compound signatures of that family).
- Instruments: at least half (rounded up) of the listed instruments are named,
  each by its name, a synonym (`INSTRUMENT_SYNONYMS`: "strings" for string
  ensemble, "piano" for acoustic grand piano, ...) or its head noun.
- Genre, Vocal Character, Lyric Themes, Mix Notes, Dynamics-as-text: keyword
  overlap — a distinctive word of the truth (`GENERIC_WORDS` removed, simple
  plurals folded, a few genre synonyms in `GENRE_SYNONYMS`) occurs in the caption.
  Lyric text longer than 8 keywords (a transcript) needs `LYRIC_MIN_HITS` distinct words.
- Dynamics from LUFS: the stated LUFS value within 3 LU, or a loudness word
  of the right band (loud above -14 LUFS, quiet below -23, moderate between).
- Theory: at least half (rounded up) of the truth chords are named in the
  caption with the same root pitch class and triad family (maj/min/dim/aug/sus);
  "Bm", "B minor chord", "B:min" and "Bm7" all name B minor. A bare capital
  ("A", "D") counts as a chord only in a chord context: a list like
  "D - A - Bm - G", or followed by "chord"/"triad" (so the article "A" is not).
- Structure: at least half (rounded up) of the distinct section labels are named.

Negation is not understood ("not in D major" states D major). Everything
here is a pure function of its arguments (module-level tables are constants),
so it can be used as a GRPO reward.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable, Mapping

from musicflamingo.data import known
from musicflamingo.mir.harte import root_and_quality, simple_name
from musicflamingo.pitch import key_name, pitch_class

CATEGORIES: tuple[str, ...] = (
    "Genre", "BPM", "Key", "Meter", "Structure", "Instruments",
    "Vocal Character", "Lyric Themes", "Theory", "Mix Notes", "Dynamics",
)
BPM_TOLERANCE = 0.04
LUFS_TOLERANCE = 3.0
THEORY_TOP_K = 4
LYRIC_MIN_HITS = 2

# ------------------------------------------------------------------ vocabularies

INSTRUMENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "acoustic grand piano": ("piano", "grand piano", "pianoforte", "acoustic piano"),
    "bright acoustic piano": ("piano", "acoustic piano"),
    "electric piano": ("electric piano", "rhodes", "e-piano", "wurlitzer"),
    "harpsichord": ("harpsichord", "cembalo"),
    "marimba": ("marimba",),
    "church organ": ("organ", "pipe organ", "church organ"),
    "nylon-string guitar": ("guitar", "classical guitar", "nylon-string guitar", "nylon guitar",
                            "spanish guitar", "acoustic guitar"),
    "steel-string guitar": ("guitar", "acoustic guitar", "steel-string guitar"),
    "violin": ("violin", "fiddle"),
    "viola": ("viola",),
    "cello": ("cello", "violoncello"),
    "contrabass": ("double bass", "contrabass", "upright bass"),
    "string ensemble": ("strings", "string ensemble", "string section", "string orchestra", "string quartet"),
    "choir aahs": ("choir", "choral voices", "voices", "vocal ensemble", "chorale voices"),
    "clarinet": ("clarinet",),
    "flute": ("flute",),
    "trumpet": ("trumpet",),
    "oboe": ("oboe",),
    "harp": ("harp",),
    "drums": ("drums", "drum kit", "drum set", "percussion"),
}
# Head nouns that do not name an instrument on their own ("choir aahs" -> not "aahs").
_GENERIC_HEADS = {"ensemble", "section", "aahs", "oohs", "pad", "lead", "kit", "set", "voice", "group", "fx"}

INSTRUMENT_WORDS = (
    "piano", "keyboard", "keys", "synth", "synthesizer", "synthesiser", "organ", "harpsichord", "celesta",
    "guitar", "bass", "violin", "fiddle", "viola", "cello", "double bass", "contrabass", "strings", "harp",
    "banjo", "mandolin", "ukulele", "lute", "sitar", "erhu", "pipa", "guzheng", "koto", "shamisen", "oud",
    "flute", "piccolo", "recorder", "clarinet", "oboe", "bassoon", "saxophone", "sax", "harmonica",
    "accordion", "bagpipes", "whistle", "trumpet", "trombone", "horn", "tuba", "brass", "woodwinds",
    "drums", "drum", "percussion", "timpani", "cymbals", "marimba", "xylophone", "vibraphone",
    "glockenspiel", "bells", "tabla", "choir", "orchestra", "ensemble", "quartet", "instrumentation",
)

GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "bach": ("baroque",),
    "chorale": ("hymn",),
    "fiddle": ("reel", "jig", "hornpipe", "strathspey"),
    "ragtime": ("rag",),
    "hip": ("hip-hop", "hiphop", "rap"),
    "electronic": ("edm", "electronica"),
}
GENRE_WORDS = (
    "genre", "rock", "pop", "jazz", "blues", "classical", "baroque", "renaissance", "romantic", "folk",
    "chorale", "hymn", "ragtime", "madrigal", "chanson", "reel", "jig", "march", "hip-hop", "hip hop", "rap",
    "electronic", "edm", "techno", "house", "trance", "ambient", "country", "metal", "punk", "funk", "soul",
    "r&b", "reggae", "latin", "gospel", "opera", "world music", "traditional", "fiddle tune", "lullaby",
    "disco", "bossa nova", "samba", "tango", "flamenco", "raga", "gamelan", "anthem", "ballad", "cantata",
    "motet", "sonata", "minuet", "waltz", "polka", "soundtrack", "cinematic", "orchestral", "chamber music",
)
GENERIC_WORDS = {
    "a", "an", "the", "and", "or", "of", "in", "on", "with", "for", "by", "to", "from", "at", "as", "is",
    "song", "songs", "tune", "tunes", "music", "musical", "piece", "pieces", "style", "styles", "tradition",
    "traditional", "genre", "track", "work", "sung", "vocals", "vocal", "voice", "lyrics", "lyric", "mix",
    "about", "that", "this", "it", "its", "are", "be", "was", "i", "you", "me", "my", "we", "our", "your",
    "he", "she", "they", "them", "his", "her", "their", "so", "but", "not", "no", "all", "just", "up",
    "down", "out", "oh", "yeah", "la", "da", "na", "do", "dont", "can", "will", "when", "what", "there",
}
STRUCTURE_WORDS = (
    "intro", "introduction", "verse", "chorus", "pre-chorus", "refrain", "bridge", "outro", "coda",
    "interlude", "breakdown", "drop", "hook", "section", "sections", "strophic", "binary form",
    "ternary form", "rondo", "sonata form", "through-composed", "aaba", "12-bar", "twelve-bar", "phrase",
    "phrases", "cadence", "structure", "form",
)
VOCAL_WORDS = (
    "vocal", "vocals", "vocalist", "voice", "voices", "singer", "singers", "singing", "sung", "sings",
    "falsetto", "baritone", "tenor", "soprano", "alto", "mezzo-soprano", "rap", "rapping", "choir",
    "instrumental", "a cappella",
)
LYRIC_WORDS = ("lyric", "lyrics", "lyrical", "sings about", "sung about", "singing about", "words about",
               "the words", "verse text", "text of")
MIX_WORDS = (
    "mix", "mixed", "mixing", "master", "mastered", "mastering", "production", "produced", "reverb",
    "stereo", "mono", "panned", "panning", "compression", "compressed", "eq", "low end", "high end",
    "sidechain", "saturation", "room sound", "recording",
)
DYNAMICS_WORDS = (
    "dynamics", "dynamic", "loud", "louder", "loudness", "quiet", "quieter", "soft", "softly", "gentle",
    "crescendo", "decrescendo", "diminuendo", "fortissimo", "pianissimo", "forte", "mezzo-forte",
    "mezzo-piano", "lufs", "volume", "intensity", "powerful", "hushed", "restrained",
)
# Loudness bands for LUFS truth (integrated loudness of the whole track).
LOUD_ABOVE_LUFS = -14.0
QUIET_BELOW_LUFS = -23.0
DYNAMICS_BANDS: dict[str, tuple[str, ...]] = {
    "loud": ("loud", "very loud", "powerful", "forceful", "intense", "forte", "fortissimo", "heavily compressed"),
    "moderate": ("moderate volume", "moderate loudness", "moderate dynamics", "moderately loud",
                 "mezzo-forte", "mezzo-piano", "medium volume", "medium loudness"),
    "quiet": ("quiet", "soft", "softly", "gentle", "hushed", "delicate", "pianissimo", "subdued", "restrained"),
}

_WORD_NUM = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "sixteen": 16,
}
_METER_WORDS: tuple[tuple[str, frozenset[str]], ...] = (  # longest first
    ("compound quadruple", frozenset({"12/8"})),
    ("compound triple", frozenset({"9/8"})),
    ("compound duple", frozenset({"6/8", "6/4"})),
    ("common time", frozenset({"4/4"})),
    ("cut time", frozenset({"2/2"})),
    ("alla breve", frozenset({"2/2"})),
    ("waltz time", frozenset({"3/4"})),
    ("quadruple meter", frozenset({"4/4", "4/2", "4/8", "12/8"})),
    ("quadruple time", frozenset({"4/4", "4/2", "4/8", "12/8"})),
    ("triple meter", frozenset({"3/4", "3/8", "3/2", "9/8"})),
    ("triple time", frozenset({"3/4", "3/8", "3/2", "9/8"})),
    ("duple meter", frozenset({"2/4", "2/2", "2/8", "6/8"})),
    ("duple time", frozenset({"2/4", "2/2", "2/8", "6/8"})),
)

# ------------------------------------------------------------------ small text helpers

_ACC = r"(?-i:#|♯|b|♭)"  # case-sensitive even under re.I: "B" is a note, not a flat


def _norm(text: str) -> str:
    return (text or "").replace("\u2013", "-").replace("\u2014", "-").replace("\u2212", "-")


@lru_cache(maxsize=4096)
def _phrase_re(phrase: str) -> re.Pattern:
    """Whole word/phrase, optional plural, hyphen and space interchangeable."""
    words = [re.escape(w) for w in re.split(r"[\s\-]+", phrase.strip()) if w]
    body = r"[\s\-]+".join(words)
    return re.compile(r"(?<![\w&])" + body + r"(?:s|es)?(?![\w&])", re.I)


def _has_phrase(text: str, phrases: Iterable[str]) -> bool:
    return any(_phrase_re(p).search(text) for p in phrases)


def _fold(word: str) -> str:
    """Crude singular form so 'chorales' ~ 'chorale', 'strings' ~ 'string'."""
    w = word.lower().replace("'", "")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def _words(text: str) -> list[str]:
    return [_fold(w) for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())]


def _keywords(text: str) -> set[str]:
    generic = {_fold(w) for w in GENERIC_WORDS}
    return {w for w in _words(text) if w not in generic and len(w) > 1}


def _keyword_hits(truth: str, caption: str, synonyms: Mapping[str, tuple[str, ...]] | None = None) -> int:
    """Distinct truth keywords (or their synonyms) present in the caption."""
    cap_words = set(_words(caption))
    hits = 0
    for kw in _keywords(truth):
        alts = (kw,) + tuple((synonyms or {}).get(kw, ()))
        if kw in cap_words or any(_phrase_re(a).search(caption) for a in alts[1:]):
            hits += 1
    return hits


# ------------------------------------------------------------------ BPM

_NUM = r"(\d{2,3}(?:\.\d+)?)"
_BPM_UNIT = r"(?:bpm|b\.p\.m\.?|beats\s+(?:per|a|each)\s+minute|beats/min)"
_BPM_RES = (
    # "120 BPM", "120-125 bpm", "120 to 125 beats per minute"
    re.compile(r"(?<![\d.])" + _NUM + r"(?:\s*(?:-|to)\s*" + _NUM + r")?\s*" + _BPM_UNIT + r"(?!\w)", re.I),
    # "tempo of about 140", "tempo: ~139.5", "tempo sits around 120-125"
    re.compile(r"\btempo\b[^.\d;:]{0,30}?[:~≈]?\s*~?\s*" + _NUM + r"(?:\s*(?:-|to)\s*" + _NUM + r")?"
               r"(?!\s*(?:s\b|sec|second|minute|min\b|%|bar|measure|beat\b|beats\b(?!\s+(?:per|a)\s+min))|\d|/)",
               re.I),
    # "♩ = 140", "q = 140", "quarter note = 140", "M.M. 140", "MM = 140"
    re.compile(r"(?:♩|\bq|\bquarter(?:[\s\-]note)?|\bM\.?\s?M\.?)\s*=?\s*" + _NUM + r"(?!\d)", re.I),
)


def stated_tempi(caption: str) -> list[tuple[float, float]]:
    """Tempo numbers the caption states, as (low, high) ranges (equal for a single value)."""
    text = _norm(caption)
    out: list[tuple[float, float]] = []
    for rx in _BPM_RES:
        for m in rx.finditer(text):
            nums = [float(g) for g in m.groups() if g]
            if nums:
                lo, hi = min(nums), max(nums)
                if 10 <= lo and hi <= 400:
                    out.append((lo, hi))
    return out


def _match_bpm(truth: str, caption: str) -> bool:
    bpm = float(truth)
    for lo, hi in stated_tempi(caption):
        if lo * (1 - BPM_TOLERANCE) <= bpm <= hi * (1 + BPM_TOLERANCE):
            return True
    return False


# ------------------------------------------------------------------ key

_KEY_RE = re.compile(
    r"(?<![\w#♯♭])([A-G])(\s*" + _ACC + r"|[\s\-]?(?:sharp|flat)(?=[\s\-]))?[\s\-]*"
    r"(major|minor|maj|min)\b(?!\s*(?:chord|triad|seventh|7th|arpeggio|scale\s+degree))",
    re.I,
)
_KEY_OF_RE = re.compile(r"\bkey(?:\s+(?:of|is)|\s*:|\s+signature\s+of)\s+([A-G])(" + _ACC + r"|[\s\-]?(?:sharp|flat))?"
                        r"(?:[\s\-]*(minor|major|min|maj|m))?(?![\w#♯♭])", re.I)


_ARTICLE_USE_RE = re.compile(r"\s+(?!(?:key|keys|tonality|scale|mode|tonic|and|or|with|throughout|for|in|at|"
                             r"is|was|feel|sound|colou?r|harmony|piece|song|tune|chorale|chord|triad)\b)[a-z]")


def _sentence_initial(text: str, pos: int) -> bool:
    return re.search(r"(?:^|[.!?:\n]\s*|^\s*[\"'(]|[.!?]\s*[\"'(])$", text[:pos]) is not None


def stated_keys(caption: str) -> list[tuple[int, str]]:
    """Keys the caption states, as (pitch class, 'major'|'minor')."""
    text = _norm(caption)
    out: list[tuple[int, str]] = []
    for m in _KEY_RE.finditer(text):
        root, acc, mode = m.group(1), (m.group(2) or "").strip(" -"), m.group(3).lower()
        if not root.isupper():  # "a minor detail": lowercase roots are words
            continue
        if root == "A" and not acc and _sentence_initial(text, m.start()) and _ARTICLE_USE_RE.match(text, m.end()):
            continue  # "A minor detail ...", "A major influence ..." (but "A minor key", "A minor, ..." count)
        out.append((pitch_class(root + acc), "major" if mode.startswith("maj") else "minor"))
    for m in _KEY_OF_RE.finditer(text):
        root = m.group(1)
        if not root.isupper():
            continue
        acc = (m.group(2) or "").strip(" -")
        mode = "minor" if (m.group(3) or "maj").lower() in ("m", "min", "minor") else "major"
        out.append((pitch_class(root + acc), mode))
    return out


def _parse_key(value: str) -> tuple[int, str] | None:
    m = re.match(r"^\s*([A-Ga-g])(" + _ACC + r"*|[\s\-]?(?:sharp|flat))[\s\-]*(major|minor|maj|min)\s*$", value, re.I)
    if not m:
        return None
    mode = "major" if m.group(3).lower().startswith("maj") else "minor"
    return pitch_class(m.group(1).upper() + (m.group(2) or "").strip(" -")), mode


def _match_key(truth: str, caption: str) -> bool:
    want = _parse_key(truth)
    return want is not None and want in stated_keys(caption)


# ------------------------------------------------------------------ meter

_METER_FRAC_RE = re.compile(r"(?<![\d/.:])(\d{1,2})\s*/\s*(1|2|4|8|16|32)(?!\d|[/.:]\d)(?!\s*of\b)")
_METER_PAIR_RE = re.compile(
    r"\b(" + "|".join(k for k in _WORD_NUM if _WORD_NUM[k] >= 2) + r")[\s\-](two|four|eight|sixteen)\b"
    r"(?!\s*[\-\s]bar)", re.I)


def stated_meters(caption: str) -> list[frozenset[str]]:
    """Meters the caption states; each as the set of time signatures it stands for."""
    text = _norm(caption)
    out: list[frozenset[str]] = []
    for m in _METER_FRAC_RE.finditer(text):
        num = int(m.group(1))
        if 2 <= num <= 15:
            out.append(frozenset({f"{num}/{m.group(2)}"}))
    for m in _METER_PAIR_RE.finditer(text):
        out.append(frozenset({f"{_WORD_NUM[m.group(1).lower()]}/{_WORD_NUM[m.group(2).lower()]}"}))
    low = text.lower()
    for phrase, sigs in _METER_WORDS:
        if _phrase_re(phrase).search(low):
            out.append(sigs)
            low = _phrase_re(phrase).sub(" ", low)  # "compound duple" is not also "duple"
    return out


def _match_meter(truth: str, caption: str) -> bool:
    sig = truth.replace(" ", "")
    return any(sig in s for s in stated_meters(caption))


# ------------------------------------------------------------------ chords (Theory)

_QUAL = (r"(?::?(?:maj7|maj9|maj|min7|min9|min6|min|hdim7|dim7|dim|aug|sus2|sus4|m7b5|mmaj7|m7|m9|m6|m|"
         r"M7|add9|13|11|9|7|6|°7|°|ø7|ø|\+))")
_ROOT = r"[A-G](?:#|♯|b|♭)?"
_BASS = r"(?:/" + _ROOT + r"|/b?\d)"
_CHORD_TOKEN = _ROOT + _QUAL + r"?" + _BASS + r"?"
_CHORD_RE = re.compile(r"(?<![\w#♯♭/:])(" + _ROOT + r")(" + _QUAL + r")?(" + _BASS + r")?(?![\w#♯♭])")
_CHORD_SEP = r"(?:\s*(?:-|->|→|\||,|;)\s*|\s+(?:and|to|then)\s+|\s+)"
_CHORD_RUN_RE = re.compile(
    r"(?<![\w#♯♭/:])" + _CHORD_TOKEN + r"(?:" + _CHORD_SEP + _CHORD_TOKEN + r")+(?![\w#♯♭])")
_CHORD_WORD_RE = re.compile(r"(?<![\w#♯♭])([A-G])(\s*" + _ACC + r"|[\s\-](?:sharp|flat))?[\s\-]*"
                            r"(major|minor|diminished|augmented|dominant|maj|min|dim|aug)?[\s\-]*(?:seventh\s+|7th\s+)?"
                            r"(chord|triad)s?\b", re.I)


def _family(suffix: str) -> str:
    s = suffix.lstrip(":")
    if s in ("", "M", "M7", "maj", "maj7", "maj9", "7", "9", "11", "13", "6", "add9", "maj6", "dominant",
             "major"):
        return "maj"
    if s in ("dim", "dim7", "hdim7", "m7b5", "°", "°7", "ø", "ø7", "diminished"):
        return "dim"
    if s in ("aug", "+", "augmented"):
        return "aug"
    if s.startswith("sus"):
        return "sus"
    if s.startswith("m") or s.startswith("min"):
        return "min"
    return "maj"


def _chord_id(root: str, suffix: str) -> tuple[int, str]:
    return pitch_class(root), _family(suffix)


def stated_chords(caption: str) -> set[tuple[int, str]]:
    """Chords the caption names, as (root pitch class, family). See module doc for the bare-letter rule."""
    text = _norm(caption)
    found: set[tuple[int, str]] = set()
    for m in _CHORD_RE.finditer(text):
        if m.group(2) or m.group(3):  # "Bm", "F#m7", "D:maj", "G7", "C/E"
            found.add(_chord_id(m.group(1), m.group(2) or ""))
    for run in _CHORD_RUN_RE.finditer(text):
        s = run.group(0)
        toks = list(_CHORD_RE.finditer(s))
        seps = [s[a.end():b.start()] for a, b in zip(toks, toks[1:])]
        has_suffix = any(t.group(2) for t in toks)
        punct_sep = any(sep.strip() not in ("", "and", "to", "then") for sep in seps)
        before = text[max(0, run.start() - 16):run.start()].lower()
        if re.search(r"\b(?:sections?|parts?|themes?|strains?|form)\W*$", before):  # "sections A, B and C"
            continue
        if len(toks) >= 2 and (has_suffix or punct_sep):
            for t in toks:
                found.add(_chord_id(t.group(1), t.group(2) or ""))
    for m in _CHORD_WORD_RE.finditer(text):
        if not m.group(1).isupper():
            continue
        if m.group(1) == "A" and not m.group(2) and not m.group(3) and _sentence_initial(text, m.start()):
            continue  # sentence-initial article: "A chord progression ..."
        acc = (m.group(2) or "").strip(" -")
        found.add(_chord_id(m.group(1) + acc, (m.group(3) or "").lower()))
    return found


def _parse_chord_list(value: str) -> list[tuple[int, str]]:
    out = []
    for name in (v.strip() for v in value.split(",")):
        m = re.match(r"^([A-G](?:#|♯|b|♭)?)(.*)$", name)
        if m:
            out.append(_chord_id(m.group(1), m.group(2).split("/")[0]))
    return out


def _at_least_half(n_hit: int, n_total: int) -> bool:
    return n_total > 0 and n_hit >= math.ceil(n_total / 2)


def _match_theory(truth: str, caption: str) -> bool:
    want = list(dict.fromkeys(_parse_chord_list(truth)))
    have = stated_chords(caption)
    return _at_least_half(sum(c in have for c in want), len(want))


# ------------------------------------------------------------------ instruments

def instrument_aliases(name: str) -> tuple[str, ...]:
    """Names that count as naming this instrument: itself, synonyms, and its head noun."""
    key = name.strip().lower()
    aliases = [key, *INSTRUMENT_SYNONYMS.get(key, ())]
    head = re.split(r"[\s\-]+", key)[-1]
    if key not in INSTRUMENT_SYNONYMS and head not in _GENERIC_HEADS and head != key:
        aliases.append(head)
    return tuple(dict.fromkeys(aliases))


def _match_instruments(truth: str, caption: str) -> bool:
    names = [n.strip() for n in truth.split(",") if n.strip()]
    hits = sum(_has_phrase(caption, instrument_aliases(n)) for n in names)
    return _at_least_half(hits, len(names))


# ------------------------------------------------------------------ structure, dynamics

def _label_named(label: str, caption: str) -> bool:
    if re.fullmatch(r"[A-H]'?", label.strip(), re.I):  # section letters: "section A", "A section", "AABA"
        L = re.escape(label.strip().upper())
        return bool(re.search(r"\b(?:section|part|theme|strain)\s+" + L + r"(?![\w'])|(?<![\w'])" + L
                              + r"\s+(?:section|part|theme|strain)\b", caption, re.I)
                    or any(label.strip().upper() in tok for tok in re.findall(r"\b[A-H](?:-?[A-H]){1,7}\b", caption)))
    return _phrase_re(label).search(caption) is not None


def _match_structure(truth: str, caption: str) -> bool:
    labels = list(dict.fromkeys(lbl.strip().lower() for lbl in re.split(r"\s+-\s+|,", truth) if lbl.strip()))
    hits = sum(_label_named(lbl, caption) for lbl in labels)
    return _at_least_half(hits, len(labels))


_LUFS_TRUTH_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*LUFS\s*$", re.I)
_LUFS_TEXT_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:LUFS|LKFS)\b", re.I)


def _dynamics_band(lufs: float) -> str:
    if lufs > LOUD_ABOVE_LUFS:
        return "loud"
    if lufs < QUIET_BELOW_LUFS:
        return "quiet"
    return "moderate"


def _match_dynamics(truth: str, caption: str) -> bool:
    m = _LUFS_TRUTH_RE.match(truth)
    if not m:
        return _keyword_hits(truth, caption) >= 1
    lufs = float(m.group(1))
    text = _norm(caption)
    if any(abs(float(v) - lufs) <= LUFS_TOLERANCE for v in _LUFS_TEXT_RE.findall(text)):
        return True
    band = _dynamics_band(lufs)
    low = text.lower()
    if band != "moderate":  # "moderately loud" is moderate, not loud
        low = re.sub(r"moderate(?:ly)?[\s\-]+\w+", " ", low)
    return _has_phrase(low, DYNAMICS_BANDS[band])


# ------------------------------------------------------------------ public API

def _as_text(value) -> str | None:
    """A fact value as truth text; None/empty/unknown types stay None."""
    if value is None or value is True:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (list, tuple)):
        parts = [_as_text(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    if isinstance(value, Mapping):
        parts = [_as_text(v) for k, v in value.items() if not str(k).endswith(("_s", "start", "end", "confidence"))]
        return ", ".join(p for p in parts if p and not _is_number(p)) or None
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _key_truth(value) -> str | None:
    key = known.as_key(value)
    if key is None:
        return None
    return key_name(*key.split())


def _theory_truth(chords) -> str | None:
    if not chords:
        return None
    dur: Counter = Counter()
    first: dict[str, int] = {}
    for i, row in enumerate(chords):
        try:
            start, end, label = float(row[0]), float(row[1]), str(row[2])
        except (TypeError, ValueError, IndexError):
            continue
        if root_and_quality(label) is None or end <= start:
            continue
        name = simple_name(label)
        dur[name] += end - start
        first.setdefault(name, i)
    if not dur:
        return None
    top = sorted(dur, key=lambda n: (-dur[n], first[n]))[:THEORY_TOP_K]
    return ", ".join(top)


def _structure_truth(sections) -> str | None:
    if not sections:
        return None
    labels = []
    for s in sections:
        if isinstance(s, (list, tuple)) and len(s) >= 3:  # the MIR contract: [start_s, end_s, label]
            label = s[2]
        else:
            label = s if isinstance(s, str) else (s.get("label") or s.get("name")) if isinstance(s, Mapping) else None
        if isinstance(label, str) and label.strip():
            labels.append(label.strip())
    return " - ".join(labels) or None


def _mix_truth(brightness_hz, loudness_range_lu) -> str | None:
    """Mix notes from DSP descriptors: spectral balance (centroid) and dynamic range (LRA); None unless both are known."""
    brightness_hz, loudness_range_lu = known.as_number(brightness_hz), known.as_number(loudness_range_lu)
    if brightness_hz is None or loudness_range_lu is None:
        return None
    tone = "bright" if brightness_hz > 2500 else "warm" if brightness_hz < 1200 else "balanced"
    rng = "compressed" if loudness_range_lu < 5 else "wide" if loudness_range_lu > 12 else "moderate"
    return f"{tone} spectrum, {rng} dynamic range"


def structured_truth(facts: Mapping | None, tags: Mapping | None) -> dict[str, str | None]:
    """The 11 structured ground-truth categories from MIR facts and catalogue tags; unknown -> None.

    A fact below its kind's assertion threshold is unknown here (None): facts that went through
    `known.gate` lose their hedge-band facts too (`known.asserted_only`), so no reward asks a caption
    to state what the tools are unsure of."""
    facts = known.asserted_only(facts or {})
    tags = tags or {}
    truth: dict[str, str | None] = dict.fromkeys(CATEGORIES)

    truth["Genre"] = _as_text(tags.get("tradition")) or _as_text(tags.get("genre"))
    tempo = known.tempo(facts)
    truth["BPM"] = f"{tempo:g}" if tempo is not None else None
    truth["Key"] = _key_truth(facts.get("key"))
    truth["Meter"] = known.meter(facts)
    truth["Structure"] = _structure_truth(facts.get("sections"))
    truth["Instruments"] = _as_text(tags.get("instruments"))
    vocals = facts.get("vocals")
    truth["Vocal Character"] = "instrumental" if vocals is False else _as_text(vocals)
    truth["Lyric Themes"] = _as_text(facts.get("lyric_themes")) or _as_text(facts.get("lyrics"))
    truth["Theory"] = _theory_truth(facts.get("chords"))
    truth["Mix Notes"] = _as_text(facts.get("mix_notes")) or _mix_truth(facts.get("brightness_hz"), facts.get("loudness_range_lu"))
    lufs = known.number(facts, "loudness_lufs")
    if lufs is not None:
        truth["Dynamics"] = f"{lufs:.1f} LUFS"
    else:
        truth["Dynamics"] = _as_text(facts.get("dynamics"))
    return truth


def match_category(category: str, truth_value: str | None, caption: str) -> bool | None:
    """Does the caption state this category's true value? None when the truth is unknown."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    if truth_value is None or not str(truth_value).strip():
        return None
    truth_value = str(truth_value)
    caption = _norm(caption or "")
    if category == "BPM":
        return _match_bpm(truth_value, caption)
    if category == "Key":
        return _match_key(truth_value, caption)
    if category == "Meter":
        return _match_meter(truth_value, caption)
    if category == "Instruments":
        return _match_instruments(truth_value, caption)
    if category == "Theory":
        return _match_theory(truth_value, caption)
    if category == "Structure":
        return _match_structure(truth_value, caption)
    if category == "Dynamics":
        return _match_dynamics(truth_value, caption)
    if category == "Genre":
        return _keyword_hits(truth_value, caption, GENRE_SYNONYMS) >= 1
    if category == "Vocal Character" and truth_value.strip().lower() == "instrumental":
        return bool(re.search(r"\binstrumental\b|\b(?:no|without)\s+(?:vocals?|voices?|singing|singer)\b",
                              caption, re.I))
    if category == "Lyric Themes":  # a short theme list needs one word, a transcript LYRIC_MIN_HITS
        n = len(_keywords(truth_value))
        need = 1 if n <= 8 else LYRIC_MIN_HITS
        return n > 0 and _keyword_hits(truth_value, caption) >= need
    return _keyword_hits(truth_value, caption) >= 1  # Vocal Character, Mix Notes


_MENTION_WORDS: dict[str, tuple[str, ...]] = {
    "Genre": GENRE_WORDS,
    "Structure": STRUCTURE_WORDS,
    "Instruments": INSTRUMENT_WORDS,
    "Vocal Character": VOCAL_WORDS,
    "Lyric Themes": LYRIC_WORDS,
    "Mix Notes": MIX_WORDS,
    "Dynamics": DYNAMICS_WORDS,
    "Theory": ("chord", "chords", "progression", "cadence", "harmony", "harmonic", "tonic", "dominant",
               "subdominant", "modulation", "modulates"),
}
_ROMAN_PROG_RE = re.compile(r"\b(?:[iIvV]{1,3}[°ø+]?7?)(?:\s*(?:-|–|→|->)\s*[iIvV]{1,3}[°ø+]?7?)+\b")


def mentions_category(category: str, caption: str) -> bool:
    """Does the caption say anything about this category, right or wrong?

    BPM: any stated tempo number; Key: any stated key; Meter: any time
    signature or meter name; Theory: any chord name, roman-numeral progression
    or harmony word; the rest: a word from that category's vocabulary.
    Tempo words without a number ("brisk tempo") are not a BPM mention.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    caption = _norm(caption or "")
    if category == "BPM":
        return bool(stated_tempi(caption))
    if category == "Key":
        return bool(stated_keys(caption))
    if category == "Meter":
        return bool(stated_meters(caption))
    if category == "Theory" and (stated_chords(caption) or _ROMAN_PROG_RE.search(caption)):
        return True
    return _has_phrase(caption, _MENTION_WORDS[category])


def structured_reward(caption: str, truth: Mapping[str, str | None]) -> float:
    """Matched categories / known categories (0.0 when none is known). Pure: no I/O, no state."""
    known = [c for c in CATEGORIES if truth.get(c) is not None]
    if not known:
        return 0.0
    return sum(bool(match_category(c, truth[c], caption)) for c in known) / len(known)


__all__ = [
    "CATEGORIES", "structured_truth", "match_category", "mentions_category", "structured_reward",
    "stated_tempi", "stated_keys", "stated_meters", "stated_chords", "instrument_aliases",
]
