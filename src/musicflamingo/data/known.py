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


# ------------------------------------------------------------------ confidence: assert, hedge or omit

# Every estimated fact kind and where its confidence lives. Scalar kinds carry one confidence for the fact;
# list kinds (`LIST_KINDS`) carry one probability per item (a tag, a sung word).
CONFIDENCE_FIELDS = {"tempo": "tempo_confidence", "key": "key_confidence", "meter": "meter_confidence",
                     "chords": "chord_confidence", "vocals": "vocal_confidence"}
LIST_KINDS = ("lyrics", "instruments", "genres", "moods")
KINDS = (*CONFIDENCE_FIELDS, *LIST_KINDS)
TIERS = ("assert", "hedge", "omit")
# Hedge words: a sentence with one of them states its facts as uncertain ("probably in A minor").
HEDGE_RE = re.compile(r"\b(?:probabl[ey]|likely|possibl[ey]|perhaps|maybe|may|might|seems?|appears?|uncertain|tentative(?:ly)?)\b", re.I)


def _present(facts: Mapping, kind: str) -> bool:
    return {"tempo": lambda: tempo(facts) is not None, "key": lambda: key(facts) is not None,
            "meter": lambda: meter(facts) is not None, "chords": lambda: bool(facts.get("chords")),
            "vocals": lambda: facts.get("vocals") is not None}[kind]()


def tier(confidence: float | None, band: Mapping) -> str:
    """'assert' at or above `band['assert']`, 'hedge' at or above `band['hedge']`, else 'omit'.

    A missing confidence (None) is 'assert': such a fact is catalogue truth or comes from a facts row
    written before confidences existed; `mir annotate` writes a confidence for every fact it estimates."""
    if confidence is None:
        return "assert"
    stated = band["assert"] is not None and confidence >= float(band["assert"])  # assert: null = never stated flatly
    return "assert" if stated else "hedge" if confidence >= float(band["hedge"]) else "omit"


def _items(facts: Mapping, kind: str) -> list[tuple[object, float | None]]:
    """(item, probability) of a list kind: instruments / genres / moods rows, or sung words."""
    if kind == "lyrics":
        probs = facts.get("word_probabilities") or []
        words = facts.get("words") or []
        return [(w, as_number(probs[i]) if i < len(probs) else None) for i, w in enumerate(words)]
    return [(row, as_number(row[-1]) if isinstance(row, (list, tuple)) and len(row) >= 2 else None) for row in facts.get(kind) or []]


def tiers(facts: Mapping, bands: Mapping) -> dict[str, object]:
    """The tier of every known fact: kind -> tier for scalar kinds, kind -> [tier per item] for list kinds.
    Kinds absent from `bands` or unknown in `facts` are left out."""
    out: dict[str, object] = {}
    for kind, field_name in CONFIDENCE_FIELDS.items():
        if kind in bands and _present(facts, kind):
            out[kind] = tier(as_number(facts.get(field_name)), bands[kind])
    for kind in LIST_KINDS:
        if kind in bands and (items := _items(facts, kind)):
            out[kind] = [tier(p, bands[kind]) for _, p in items]
    return out


_BLANK = {"tempo": {"tempo_bpm": None, "tempo_alternatives": []}, "key": {"key": "unknown", "key_alternatives": [], "section_keys": []},
          "meter": {"time_signature": "unknown"}, "chords": {"chords": [], "harmonic_rhythm": None},
          "vocals": {"vocals": None, "vocals_state": "unknown", "lyrics": "", "words": [], "word_probabilities": [], "lyrics_state": "unknown"}}


def _blank(out: dict, kind: str) -> None:
    """Make one scalar fact unknown in `out` (in place), with what derives from it."""
    out.update(_BLANK[kind])
    if kind in ("tempo", "chords"):  # the windows' own tempo / chords come from the same estimate
        drop = "tempo_bpm" if kind == "tempo" else "chords"
        out["segments"] = [{**g, drop: None} for g in out.get("segments") or []]


def gate(facts: Mapping, bands: Mapping | None) -> dict:
    """A copy of `facts` where every fact below its kind's hedge threshold is unknown (so no consumer states,
    checks or rewards it) and `confidence_tiers` records which of the rest are hedged.

    `bands`: kind -> {"assert": a, "hedge": h} (conf/skills `confidence:`). Idempotent; None = no gating.
    The writer hedges a 'hedge' fact, the claim checker accepts it only in a hedged sentence, and
    structured truth leaves it unknown."""
    if not bands or "confidence_tiers" in facts:
        return dict(facts)
    t = tiers(facts, bands)
    out = dict(facts)
    for kind in CONFIDENCE_FIELDS:
        if t.get(kind) == "omit":
            _blank(out, kind)
    kept_tiers: dict[str, object] = {k: v for k, v in t.items() if k in CONFIDENCE_FIELDS and v != "omit"}
    for kind in LIST_KINDS:
        if kind not in t or (kind == "lyrics" and t.get("vocals") == "omit"):
            continue
        items = _items(facts, kind)
        keep = [i for i, tr in enumerate(t[kind]) if tr != "omit"]
        if kind == "lyrics":
            probs = facts.get("word_probabilities") or []
            out["words"] = [items[i][0] for i in keep]
            out["word_probabilities"] = [probs[i] for i in keep if i < len(probs)]
            out["lyrics"] = " ".join(str(w[2]) for w in out["words"] if isinstance(w, (list, tuple)) and len(w) >= 3)
            if not keep:
                out["lyrics_state"] = "unknown"
        else:
            out[kind] = [items[i][0] for i in keep]
        kept_tiers[kind] = [t[kind][i] for i in keep]
    out["confidence_tiers"] = kept_tiers
    return out


def hedged(facts: Mapping, kind: str) -> bool:
    """Is this scalar fact (tempo, key, meter, chords, vocals) in its hedge band (after `gate`)?"""
    return (facts.get("confidence_tiers") or {}).get(kind) == "hedge"


def hedged_items(facts: Mapping, kind: str) -> list:
    """The items of a list kind (instrument rows, ...) that are in the hedge band (after `gate`)."""
    t = (facts.get("confidence_tiers") or {}).get(kind) or []
    return [row for row, tr in zip(facts.get(kind) or [], t) if tr == "hedge"]


def asserted_only(facts: Mapping) -> dict:
    """`facts` (after `gate`) with the hedged facts unknown too: for questions and answers, which cannot hedge."""
    tiers_now = facts.get("confidence_tiers") or {}
    out = dict(facts)
    for kind in CONFIDENCE_FIELDS:
        if tiers_now.get(kind) == "hedge":
            _blank(out, kind)
    for kind in ("instruments", "genres", "moods"):
        if t := tiers_now.get(kind):
            out[kind] = [row for row, tr in zip(out.get(kind) or [], t) if tr == "assert"]
    return out


__all__ = ["as_number", "as_key", "as_meter", "tempo", "key", "meter", "number", "times", "sections", "section_keys",
           "sung_words", "lyrics", "KINDS", "TIERS", "HEDGE_RE", "tier", "tiers", "gate", "hedged", "hedged_items", "asserted_only"]
