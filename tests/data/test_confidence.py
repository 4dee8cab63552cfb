"""Confidence carried to every sentence (issue 17): each fact is asserted, hedged or omitted by its confidence.

`known.gate` makes a fact below its hedge threshold unknown; the built-in writer hedges the middle band; the
claim checker accepts a hedge-band fact only in a hedged sentence; structured truth leaves it unknown; the
dataset card counts the tiers per fact kind next to the real benchmark's accuracy.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicflamingo.data import builtin_writer as bw
from musicflamingo.data import card
from musicflamingo.data import factcheck as fc
from musicflamingo.data import known
from musicflamingo.data.structured import structured_truth
from musicflamingo.testing.synthetic import synthetic_track
from musicflamingo.mir import fuse

BANDS = {"tempo": {"assert": 0.6, "hedge": 0.3}, "key": {"assert": 0.6, "hedge": 0.3}, "meter": {"assert": 0.8, "hedge": 0.5},
         "chords": {"assert": 0.6, "hedge": 0.4}, "vocals": {"assert": 0.9, "hedge": 0.9}, "lyrics": {"assert": 0.6, "hedge": 0.6},
         "instruments": {"assert": 0.55, "hedge": 0.4}, "genres": {"assert": 0.5, "hedge": 0.5}, "moods": {"assert": 0.5, "hedge": 0.5}}
conf = st.floats(0.0, 1.0, allow_nan=False)


def _facts(seed: int, tempo_c: float, key_c: float, meter_c: float, chord_c: float) -> tuple[dict, dict]:
    facts, tags = synthetic_track(seed)
    facts |= {"tempo_confidence": tempo_c, "key_confidence": key_c, "meter_confidence": meter_c, "chord_confidence": chord_c,
              "instruments": [["piano", "piano", 0.8], ["guitar", "guitar", 0.45], ["flute", "pipe", 0.2]]}
    return facts, {k: v for k, v in tags.items() if k != "instruments"}  # the tagger's instruments, not the catalogue's


@given(conf, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_tier_is_monotone_in_confidence(c, a, h):
    band = {"assert": max(a, h), "hedge": min(a, h)}
    order = {"omit": 0, "hedge": 1, "assert": 2}
    assert order[known.tier(c, band)] <= order[known.tier(min(1.0, c + 0.1), band)]
    assert known.tier(band["assert"], band) == "assert" and known.tier(None, band) == "assert"


def test_gate_omits_below_hedge_and_records_hedged():
    facts, _ = _facts(3, 0.2, 0.45, 0.9, 0.5)
    g = known.gate(facts, BANDS)
    assert known.tempo(g) is None and all(s.get("tempo_bpm") is None for s in g["segments"])  # omitted, windows too
    assert known.key(g) == facts["key"] and known.hedged(g, "key")
    assert known.meter(g) == facts["time_signature"] and not known.hedged(g, "meter")
    assert known.hedged(g, "chords") and g["chords"] == facts["chords"]
    assert [r[0] for r in g["instruments"]] == ["piano", "guitar"] and [r[0] for r in known.hedged_items(g, "instruments")] == ["guitar"]
    assert known.gate(g, BANDS) == g  # idempotent
    a = known.asserted_only(g)
    assert known.key(a) is None and not a["chords"] and [r[0] for r in a["instruments"]] == ["piano"]


def test_gate_drops_unconfident_words():
    facts, _ = synthetic_track(1)
    facts |= {"vocals": True, "vocal_confidence": 0.95, "words": [[1.0, 1.4, "love"], [2.0, 2.4, "night"]], "word_probabilities": [0.9, 0.3]}
    g = known.gate(facts, BANDS)
    assert g["words"] == [[1.0, 1.4, "love"]] and g["lyrics"] == "love"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 40), conf, conf, conf, conf)
def test_writer_states_hedges_or_omits_by_confidence(seed, tc, kc, mc, cc):
    facts, tags = _facts(seed, tc, kc, mc, cc)
    g = known.gate(facts, BANDS)
    text = bw.caption(g, tags, random.Random(seed))
    fx = fc.FactIndex.build(g, tags)
    for sent in fc.sentences(text):
        verdicts = fc.check_sentence(sent, fx, fc.Tolerances(), strict=False)
        assert not fc.contradicted(verdicts), (sent, verdicts)
        kinds = {v.kind for v in verdicts if v.verdict == "supported"}
        if kinds & {"tempo"} and known.hedged(g, "tempo") or kinds & {"key"} and known.hedged(g, "key"):
            assert known.HEDGE_RE.search(sent), sent  # a hedge-band fact is never stated flatly
        assert not [v for v in verdicts if v.reason.startswith("fact below the assertion")], sent
    bpm = f"{facts['tempo_bpm']:.0f} BPM"
    assert (bpm in text) == (tc >= 0.3)  # omitted below the hedge threshold
    if 0.3 <= tc < 0.6:
        assert f"likely around {bpm}" in text
    assert ("probably in " + facts["key"] in text) == (0.3 <= kc < 0.6)
    assert "guitar (probability 0.45)" in text and "may also" in text and "flute" not in text


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 40), conf, conf, conf, conf)
def test_questions_and_structured_truth_use_asserted_facts_only(seed, tc, kc, mc, cc):
    facts, tags = _facts(seed, tc, kc, mc, cc)
    g = known.gate(facts, BANDS)
    qtypes = {it["qtype"] for it in bw.qa_items(g, tags, random.Random(seed))}
    truth = structured_truth(g, tags)
    assert ("tempo" in qtypes) == (tc >= 0.6)
    assert (truth["BPM"] is not None) == (tc >= 0.6)
    assert (truth["Key"] is not None) == (kc >= 0.6)
    assert (truth["Meter"] is not None) == (mc >= 0.8)
    assert (truth["Theory"] is not None) == (cc >= 0.6)


def test_checker_needs_a_hedge_for_a_hedge_band_fact_and_never_supports_an_omitted_one():
    facts, tags = _facts(5, 0.9, 0.45, 0.9, 0.9)
    key = facts["key"]
    fx = fc.FactIndex.build(known.gate(facts, BANDS), tags)
    flat = fc.check_text(f"The piece is in {key}.", fx)
    assert [v.verdict for v in flat if v.kind == "key"] == ["unverifiable"]
    assert [v.verdict for v in fc.check_text(f"It is probably in {key}.", fx) if v.kind == "key"] == ["supported"]
    assert [v.verdict for v in fc.check_text("It is played on guitar.", fx) if v.kind == "instrument"] == ["unverifiable"]
    assert [v.verdict for v in fc.check_text("It may be played on guitar.", fx) if v.kind == "instrument"] == ["supported"]
    assert [v.verdict for v in fc.check_text("It is played on piano.", fx) if v.kind == "instrument"] == ["supported"]
    low = fc.FactIndex.build(known.gate(facts | {"key_confidence": 0.1}, BANDS), tags)
    assert [v.verdict for v in fc.check_text(f"It is probably in {key}.", low) if v.kind == "key"] == ["unverifiable"]
    flute = [v.verdict for v in fc.check_text("A flute is heard.", fx) if v.kind == "instrument"]
    assert flute and "supported" not in flute  # omitted tag: never support


def test_meter_and_chord_confidence():
    beats = [i * 0.5 for i in range(17)]
    assert fuse.meter_confidence(beats, [0.0, 2.0, 4.0, 6.0, 8.0], 4) == 1.0
    assert fuse.meter_confidence(beats, [0.0, 2.0, 3.5, 6.0, 8.0], 4) == 0.5
    assert fuse.meter_confidence(beats, [0.0], 4) is None
    fused = [[0.0, 2.0, "C:maj"], [2.0, 4.0, "G:maj"]]
    tools = {"a": [[0.0, 4.0, "C:maj"]], "b": [[0.0, 2.0, "C:maj"], [2.0, 4.0, "G:maj"]]}
    assert fuse.chord_confidence(tools, fused) == pytest.approx(0.75)
    assert fuse.chord_confidence({}, fused) is None


def test_card_reports_tier_shares_beside_measured_accuracy(tmp_path):
    rows = [_facts(s, c, c, 0.9, 0.9)[0] for s, c in ((1, 0.9), (2, 0.45), (3, 0.1), (4, 0.95))]
    shares = card.tier_shares(rows, BANDS)
    assert shares["tempo"] == {"facts": 4, "assert": 0.5, "hedge": 0.25, "omit": 0.25}
    assert shares["instruments"]["facts"] == 12 and shares["instruments"]["omit"] == pytest.approx(0.333)
    path = tmp_path / "accuracy.json"
    path.write_text('{"key": {"measure": "MIREX weighted", "value": 0.71, "n": 8}}')
    md = card.confidence_section(rows, BANDS, card.load_accuracy(path))
    assert "| key | 0.6 | 0.3 | 4 | 50 % | 25 % | 25 % | MIREX weighted 0.71 (n=8) |" in md
    assert "| tempo |" in md and "not measured" in md
    assert card.load_accuracy(tmp_path / "absent.json") == {}
