"""Deliberately false captions and answers, built from true ones: the checker's test set.

Each mutation makes exactly one kind of error in a true text: a wrong tempo
(x2, /2, +25 %), a wrong key (relative, parallel, dominant), a wrong meter,
a chord that never sounds, a section time moved away from any boundary, an
invented instrument, a lyric word that is never sung, a wrong Roman numeral for a chord. Free-phrased false
sentences (not in the writer's wording) are appended as well, so the rate is
not only measured on the writer's own phrasing.
"""

from __future__ import annotations

import random
import re

from musicflamingo.data import theory as th
from musicflamingo.data.factcheck import _NUMERAL_PAIR_RE, INSTRUMENT_NOUNS, FactIndex, _harte, _section_labels, sentences
from musicflamingo.mir.harte import root_and_quality
from musicflamingo.pitch import PITCH_CLASSES, pitch_class

_BPM = re.compile(r"(\d{2,3})(?:\.\d+)?(\s*BPM)")
_KEY = re.compile(r"\b([A-G](?:#|b)?) (major|minor)\b(?! chord)")
_METER = re.compile(r"\b([2-6])/(4|8)\b")
_MMSS = re.compile(r"\b(\d{1,2}):([0-5]\d)\b")
_RUN = re.compile(r"(?:progression|begins|opens) ([A-G][#b]?[a-z0-9]*)( - )")
_QUOTED = re.compile(r"\"([A-Za-z']+)\"")


def _fmt(t: float) -> str:
    return f"{int(t // 60)}:{int(t % 60):02d}"


def false_variants(text: str, facts: dict, tags: dict, rng: random.Random) -> list[tuple[str, str]]:
    """(error kind, false text) for each mutation that applies to `text`."""
    out: list[tuple[str, str]] = []
    fx = FactIndex.build(facts, tags)
    m = _BPM.search(text)
    if m and fx.tempo:
        for kind, f in (("tempo_x2", 2.0), ("tempo_half", 0.5), ("tempo_off", rng.choice([1.25, 0.8]))):
            out.append((kind, text[: m.start()] + f"{round(fx.tempo * f)}{m.group(2)}" + text[m.end():]))
    if fx.key:
        for m in _KEY.finditer(text):
            pc, mode = pitch_class(m.group(1)), m.group(2)
            if (pc, mode) != fx.key:
                continue
            wrong = rng.choice([(f"{PITCH_CLASSES[(pc + 9) % 12]} minor" if mode == "major" else f"{PITCH_CLASSES[(pc + 3) % 12]} major"),
                                f"{m.group(1)} {'minor' if mode == 'major' else 'major'}", f"{PITCH_CLASSES[(pc + 2) % 12]} {mode}"])
            if th.parse_key(wrong) not in fx.section_keys:
                out.append(("key", text[: m.start()] + wrong + text[m.end():]))
            break
    m = _METER.search(text)
    if m and fx.meter:
        wrong = rng.choice([x for x in ("2/4", "3/4", "4/4", "6/8", "5/4") if x != fx.meter and x != m.group(0)])
        out.append(("meter", text[: m.start()] + wrong + text[m.end():]))
    m = _RUN.search(text)
    if m and fx.chord_set:
        absent = [PITCH_CLASSES[r] + q for r in range(12) for q, fam in (("", "maj"), ("m", "min")) if (r, fam) not in fx.chord_set]
        if absent:
            out.append(("chord", text[: m.start(1)] + rng.choice(absent) + text[m.end(1):]))
    if fx.sections:
        named = [s for s in sentences(text) if _section_labels(s) and _MMSS.search(s)]
        for m in (_MMSS.search(s) for s in named):
            sent = m.string
            t = int(m.group(1)) * 60 + int(m.group(2))
            bounds = [b for s, e, _ in fx.sections for b in (s, e)]
            moved = [x for x in (t + d for d in (7, -7, 11, -11, 17)) if 0 <= x <= fx.duration and min(abs(x - b) for b in bounds) > 3]
            if moved:
                out.append(("section_time", text.replace(sent, sent[: m.start()] + _fmt(rng.choice(moved)) + sent[m.end():], 1)))
                break
    if fx.instruments:
        own = " ".join(fx.instruments).lower()
        invented = [n for n in INSTRUMENT_NOUNS if n not in own and n not in fx.instrument_aliases and not any(n in a or a in n for a in fx.instrument_aliases)]
        name = rng.choice(invented)
        out.append(("instrument", text.rstrip() + " " + rng.choice([f"A {name} doubles the melody.", f"The {name} enters in the middle.", f"It also features {name}."])))
    m = _NUMERAL_PAIR_RE.search(text)
    if m and fx.key:
        keys = [f"{PITCH_CLASSES[fx.key[0]]} {fx.key[1]}"] + [f"{PITCH_CLASSES[k[0]]} {k[1]}" for k in fx.section_keys]
        rq = root_and_quality(_harte(m.group(1)))
        if rq:
            chord = th.Chord(0, 0, "", m.group(1), pitch_class(rq[0]), rq[1])
            true_ones = {th.triad_numeral(th.roman(chord, k)) for k in keys}
            wrong = [n for n in ("I", "ii", "IV", "V", "vi", "iii", "i", "iv", "VI") if n not in true_ones]
            out.append(("numeral", text[: m.start(2)] + rng.choice(wrong) + text[m.end(2):]))
    if fx.lyric_words:
        m = _QUOTED.search(text)
        if m:
            out.append(("lyric", text[: m.start(1)] + "zephyr" + text[m.end(1):]))
    return out


def free_false_sentences(facts: dict, tags: dict, rng: random.Random) -> list[tuple[str, str]]:
    """False statements in phrasings the writer never uses."""
    fx = FactIndex.build(facts, tags)
    out: list[tuple[str, str]] = []
    if fx.tempo:
        out.append(("tempo_x2", f"The groove is quick, around {round(fx.tempo * 2)} beats per minute."))
        out.append(("tempo_half", f"A laid-back {round(fx.tempo / 2)} bpm feel."))
    if fx.key:
        pc, mode = fx.key
        other = f"{PITCH_CLASSES[(pc + 5) % 12]} {mode}"
        if th.parse_key(other) not in fx.section_keys:
            out.append(("key", f"Everything sits in the key of {other}."))
        out.append(("mode", f"It is clearly in {PITCH_CLASSES[pc]} {'minor' if mode == 'major' else 'major'}."))
    if fx.instruments:
        own = " ".join(fx.instruments).lower() + " " + " ".join(fx.instrument_aliases)
        pick = [n for n in ("saxophone", "drums", "banjo", "trumpet", "sitar", "accordion") if n not in own]
        out.append(("instrument", f"Lush {pick[0]} and {pick[1]} carry the tune."))
    if fx.chord_set:
        absent = [PITCH_CLASSES[r] + q for r in range(12) for q, fam in (("m", "min"), ("", "maj")) if (r, fam) not in fx.chord_set]
        if len(absent) >= 2:
            out.append(("chord", f"The loop cycles through the chords {absent[0]} and {absent[1]}."))
    if fx.sections:
        label = fx.sections[-1][2]
        bounds = [b for s, e, _ in fx.sections for b in (s, e)]
        t = next((x for x in range(5, int(fx.duration)) if min(abs(x - b) for b in bounds) > 5), None)
        if t is not None:
            label = f"{label} section" if len(label) == 1 else label
            out.append(("section_time", f"The {label} kicks in at {_fmt(t)}."))
    return out
