"""Missing facts are normal (issue 18): every consumer of MIR facts works when any fact is absent, empty
or extreme, and no text it writes asserts a fact that is absent.

A Hypothesis strategy builds facts rows shaped like `mir.annotate` output (every top-level field and every
per-window field), where each field is independently complete, empty, None, missing or extreme (a 1 s and a
20-minute track, tempo 0, key "unknown", meter "unknown", one section, zero words, duplicate beats, ...).
Each row goes through both writers (built-in, and the LLM writer's prompt path with a scripted chat), the
claim checker, structured truth, MF-Think's step verifier and the GRPO rewards.

"Asserts an absent fact" is judged twice: by the claim checker (a claim about an unknown fact is
`unverifiable`; a released sentence must have none) and by explicit regexes per fact.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicflamingo.data import builtin_writer as bw
from musicflamingo.data import factcheck as fc
from musicflamingo.data import known
from musicflamingo.data import theory as th
from musicflamingo.data.structured import CATEGORIES, stated_chords, stated_keys, stated_meters, stated_tempi, structured_reward, structured_truth
from musicflamingo.data.think_stage import hardness, verify_steps
from musicflamingo.evaluation.captions import coverage_correctness
from musicflamingo.evaluation.judge import build_messages
from musicflamingo.llm.base import Reply
from musicflamingo.data.writers import BuiltinWriter, LLMWriter, facts_prompt_values
from musicflamingo.train.rewards import combined_reward

MISSING = "<missing>"  # a field left out of the row altogether
NAN, INF = float("nan"), float("inf")  # non-finite values are replaced by None upstream; consumers refuse them again
LABELS = ["C:maj", "G:7", "A:min", "F:maj", "D:min7", "E:maj", "B:hdim7", "Bb:maj", "F#:min", "C:maj/5", "N", "X"]
SECTION_LABELS = ["A", "B", "A", "C", "intro", "verse", "chorus", "bridge", "outro"]
WORDS = ["love", "night", "river", "home", "light", "o", "away", "morning"]
TAGS = [{}, {"instruments": ["violin"]}, {"instruments": ["acoustic grand piano", "cello"], "tradition": "ragtime"}]
# Claim kinds whose fact can be absent in a row (an unverifiable claim of these kinds asserts an absent fact).
FACT_KINDS = {"tempo", "key", "meter", "chord", "section", "sections", "vocals", "lyric", "loudness", "numeral", "time"}


def _choose(draw, name: str, options: list):
    return draw(st.sampled_from(options), label=name)


@st.composite
def facts_rows(draw) -> tuple[dict, dict]:
    dur = _choose(draw, "duration", [1.0, 3.5, 29.99, 30.01, 97.3, 1200.0])
    tempo = _choose(draw, "tempo", [None, 0.0, 31.0, 96.5, 142.0, 290.0, NAN, MISSING])
    bpm = tempo if isinstance(tempo, float) and tempo > 0 else None
    step = 60.0 / bpm if bpm else 0.5
    grid = [round(i * step, 3) for i in range(int(dur / step))][:3000]
    beats = _choose(draw, "beats", [grid, [], [0.5], [1.0, 1.0], MISSING])
    downbeats = _choose(draw, "downbeats", [grid[::4], [], [0.0], MISSING])
    meter = _choose(draw, "meter", ["4/4", "3/4", "6/8", "unknown", "", None, MISSING])
    key = _choose(draw, "key", ["F# minor", "Bb major", "C major", "unknown", "", None, MISSING])
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=14), label="chord labels")
    span = dur / len(labels)
    progression = [[round(i * span, 3), round((i + 1) * span, 3), lab] for i, lab in enumerate(labels)]
    chords = _choose(draw, "chords", [progression, [], [[0.0, dur, "N"]], None, MISSING])
    n_sec = draw(st.integers(2, 5), label="sections")
    cut = [round(dur * k / n_sec, 3) for k in range(n_sec + 1)]
    several = [[cut[k], cut[k + 1], draw(st.sampled_from(SECTION_LABELS))] for k in range(n_sec)]
    sections = _choose(draw, "sections", [several, [[0.0, dur, "A"]], [], None, MISSING])
    sec_rows = several if isinstance(sections, list) and len(sections) > 1 else [[0.0, dur, "A"]]
    section_keys = _choose(draw, "section_keys", [
        [[s, e, draw(st.sampled_from(["C major", "G major", "A minor", "unknown", None]))] for s, e, _ in sec_rows], [], MISSING])
    vocals = _choose(draw, "vocals", [True, False, None, MISSING])
    n_words = draw(st.integers(0, 12), label="words")
    timed = [[round(dur * (i + 0.2) / n_words, 2), round(dur * (i + 0.6) / n_words, 2), draw(st.sampled_from(WORDS))] for i in range(n_words)]
    words = _choose(draw, "word rows", [timed, [], MISSING])
    lyrics = _choose(draw, "lyrics", [" ".join(w for _, _, w in timed), "", None, "the river runs away", MISSING])
    lufs = _choose(draw, "loudness", [-18.0, -70.0, -4.2, None, -INF, MISSING])
    facts = {
        "track_id": "t" * 64, "path": "audio_in/x.wav", "duration_s": dur,
        "tempo_bpm": tempo, "tempo_confidence": _choose(draw, "tempo confidence", [0.9, 0.0, None, MISSING]),
        "tempo_alternatives": _choose(draw, "tempo alternatives", [[round(bpm * 2, 2)] if bpm else [], [], MISSING]),
        "time_signature": meter, "beats": beats, "downbeats": downbeats,
        "key": key, "key_confidence": _choose(draw, "key confidence", [0.8, 0.1, None, NAN, MISSING]),
        "key_alternatives": _choose(draw, "key alternatives", [[["A minor", 0.3]], [[None, 0.2]], [], MISSING]),
        "chords": chords, "harmonic_rhythm": _choose(draw, "harmonic rhythm", [None, 0.0, 6.0, 1.0, MISSING]),
        "sections": sections, "section_keys": section_keys,
        "loudness_lufs": lufs, "loudness_range_lu": _choose(draw, "loudness range", [None, 0.0, 25.0, MISSING]),
        "brightness_hz": _choose(draw, "brightness", [None, 0.0, 9000.0, 1500.0, NAN, MISSING]),
        "onset_density": _choose(draw, "onset density", [None, 0.0, 25.0, MISSING]),
        "vocals": vocals, "vocal_score": _choose(draw, "vocal score", [None, 0.0, 1.0, MISSING]),
        "lyrics": lyrics, "words": words,
        "per_tool": _choose(draw, "per_tool", [
            {}, MISSING,
            {"madmom": {"tempo_bpm": None, "beats": [], "downbeats": [], "beats_per_bar": None},
             "essentia": {"key": "unknown", "key_confidence": None}, "chroma_key": {"key": None, "chroma": []},
             "chordino": {"chords": []}},
            {"madmom": {"tempo_bpm": 71.0, "key": "E minor"}, "essentia": {"tempo_bpm": 142.0, "key": "G major"}},
        ]),
        "tools": {},
    }
    n_win = max(1, -int(-dur // 30))
    windows = []
    for i in range(n_win):
        start, end = i * 30.0, min((i + 1) * 30.0, dur)
        win_words = [w for w in (words if isinstance(words, list) else []) if start <= w[0] < end]
        windows.append({
            "start_s": start, "end_s": end,
            # annotate gives a window its own tempo only when the track has one (and the window has beats)
            "tempo_bpm": bpm if bpm and draw(st.booleans(), label="window tempo") else None,
            "num_beats": len([b for b in (beats if isinstance(beats, list) else []) if start <= b < end]),
            "key": draw(st.sampled_from([key, None]), label="window key") if key != MISSING else None,
            "chords": [c for c in (chords if isinstance(chords, list) else []) if c[1] > start and c[0] < end],
            "sections": [],
            "loudness_lufs": draw(st.sampled_from([None, -22.0]), label="window loudness"),
            "brightness_hz": None, "onset_density": 0.0,
            "vocals": draw(st.sampled_from([True, False]), label="window vocals"),
            "words": win_words, "lyrics": " ".join(w[2] for w in win_words),
        })
    facts["segments"] = _choose(draw, "segments", [windows, [], MISSING])
    facts = {k: v for k, v in facts.items() if v != MISSING}
    return facts, draw(st.sampled_from(TAGS), label="tags")


# ------------------------------------------------------------------ explicit per-fact assertions

_TEMPO_RE = re.compile(r"\d\s*BPM\b|\b(?:adagio|andante|moderato|allegro|vivace)\b|\b(?:slow|leisurely|moderate|lively|fast) (?:pace|pulse|tempo)\b"
                       r"|\btempo estimate is\b|\bthis pace\b", re.I)
_KEY_RE = re.compile(r"\btonal(?:ly| centre)\b|\bthe key (?:is|of)\b|\bin the key\b|\bkey of\b|\btonic\b|\bmodulat|\bdiatonic\b"
                     r"|\bmode\b|\bRoman numeral|\bcadence|\bhome key\b")
_NUMERAL_RE = re.compile(r"\((?:b|#)?(?:VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?:°7|ø7|°|\+|maj7|7|6)?[,)]|\bthat is [b#]?[IViv]+\b"
                         r"|\breads [b#]?[IViv]+\b")
_METER_RE = re.compile(r"\b\d{1,2}/\d{1,2}\b|\bdownbeat every\b|\bbars of \d|\bin \w+ time\b")
_CHORD_CLAIM_RE = re.compile(r"\bchords? (?:is |are )?[A-G](?:#|b)?(?:m|7|m7|maj7|°|ø7)?\b|\bprogression [A-G]|\bopens with the progression\b"
                             r"|\bharmony (?:begins|changes)\b|\bends on [A-G]|\bheard most\b|\bsounds for the longest\b")
_BEATS_RE = re.compile(r"\bbeat tracker\b|\bbeats are about\b|\bbeats between\b|\bseconds apart\b|\bbeats in all\b")
_BARS_RE = re.compile(r"\babout \d+ bars\b|\b\d+ downbeats\b|\b\d+ of them\b")
_SECTION_RE = re.compile(r"\bsection [A-H]\b|\bthe (?:intro|verse|chorus|bridge|outro)\b|\bstructure analysis finds\b|\blongest section\b"
                         r"|\b(?:first|second|last) section\b|\bmaterial returns\b")
_VOCAL_RE = re.compile(r"\b(?:instrumental|sings?|sung|singing|singer|vocalist|vocals?)\b(?![\s-]+(?:tone|quality|timbre))", re.I)
_POSITIVE_VOCAL_RE = re.compile(r"\bsinging voice is present\b|\bis sung\b|\bsung lyrics\b|\bthe words\b|\btranscription begins\b|\bYes, a singing\b")
_LYRIC_RE = re.compile(r"\b(?:word|words|lyrics?|transcription)\b[^.]*[\"“]")
_LOUDNESS_RE = re.compile(r"\bintegrated loudness\b|\bloudness range\b|\b\d+(?:\.\d)? LU\b")


def _absent_fact_claims(text: str, facts: dict) -> list[str]:
    """Which absent facts `text` asserts, by the explicit regexes (empty when none)."""
    found = []
    if known.tempo(facts) is None and (_TEMPO_RE.search(text) or stated_tempi(text)):
        found.append("tempo")
    if known.key(facts) is None and (_KEY_RE.search(text) or _NUMERAL_RE.search(text) or stated_keys(text)):
        found.append("key")
    if known.meter(facts) is None and (_METER_RE.search(text) or stated_meters(text)):
        found.append("meter")
    if not th.chords_of(facts) and (_CHORD_CLAIM_RE.search(text) or stated_chords(text) or _NUMERAL_RE.search(text)):
        found.append("chords")
    if len(known.times(facts, "beats")) < 2 and _BEATS_RE.search(text):
        found.append("beats")
    if len(known.times(facts, "downbeats")) < 2 and _BARS_RE.search(text):
        found.append("downbeats")
    if not known.sections(facts) and _SECTION_RE.search(text):
        found.append("sections")
    vocals = facts.get("vocals")
    if vocals is False and _POSITIVE_VOCAL_RE.search(text):
        found.append("vocals (instrumental track)")
    if vocals is None and not known.lyrics(facts) and not known.sung_words(facts) and _VOCAL_RE.search(text):
        found.append("vocals (unknown)")
    if not known.lyrics(facts) and not known.sung_words(facts) and _LYRIC_RE.search(text):
        found.append("lyrics")
    if known.number(facts, "loudness_lufs") is None and _LOUDNESS_RE.search(text):
        found.append("loudness")
    return found


def _assert_grounded(where: str, text: str, facts: dict, fx: fc.FactIndex) -> None:
    assert isinstance(text, str) and text.strip(), where
    assert "None" not in text and not {"nan", "inf", "-inf"} & set(re.findall(r"-?[a-z]+", text.lower())), (where, text)
    verdicts = fc.check_text(text, fx)
    absent = [v for v in verdicts if v.verdict == "unverifiable" and v.kind in FACT_KINDS]
    assert not absent, (where, [(v.kind, v.claim) for v in absent], text)
    wrong = fc.contradicted(verdicts)
    assert not wrong, (where, [(v.kind, v.claim, v.reason) for v in wrong], text)
    regex = _absent_fact_claims(text, facts)
    assert not regex, (where, regex, text)


class ScriptedChat:
    """A chat backend that records every prompt and answers each schema with a minimal valid reply."""

    name = "scripted"

    def __init__(self):
        self.prompts: list[str] = []

    def chat(self, messages, schema=None, schema_name="output"):
        self.prompts.append(messages[-1]["content"])
        data = {
            "caption": "A caption of more than twenty words that the scripted chat returns for every request it gets here, word for word.",
            "items": [{"skill": "temporal", "qtype": "duration", "question": "How long is it?", "options": [], "answer": "short", "fact_ids": ["duration_s"]}],
            "steps": ["The facts above answer the question."],
            "answer_letter": self.letter,
        }
        return Reply(text="{}", data=data)


def _llm_path(facts: dict, tags: dict, items: list[dict]) -> list[str]:
    """The LLM writer's prompts for a caption, QA and one reasoning chain (the scripted chat answers)."""
    chat = ScriptedChat()
    writer = LLMWriter(chat)
    chat.letter = "A"
    writer.caption(facts, tags, random.Random(0), writer.surface_captions(facts, tags, random.Random(0)))
    writer.qa(facts, tags, random.Random(0))
    mcq = next((it for it in items if it["task"] == "mcq"), None)
    if mcq is not None:
        chat.letter = mcq["answer_letter"]
        writer.think_steps(mcq, facts, tags)
    return chat.prompts


# ------------------------------------------------------------------ the property


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(row=facts_rows(), seed=st.integers(0, 2**16))
def test_every_consumer_handles_absent_empty_and_extreme_facts(row, seed):
    facts, tags = row
    rng = random.Random(seed)
    fx = fc.FactIndex.build(facts, tags)
    writer = BuiltinWriter()

    # built-in writer: surface captions, the rich caption, QA, chains of thought
    surface = writer.surface_captions(facts, tags, rng)
    for i, text in enumerate(surface):
        _assert_grounded(f"surface[{i}]", text, facts, fx)
    caption = writer.caption(facts, tags, rng, surface)
    for i, sentence in enumerate(fc.sentences(caption)):
        _assert_grounded(f"caption sentence {i}", sentence, facts, fx)
    items, rejected = writer.qa(facts, tags, rng)
    assert not rejected
    truth = structured_truth(facts, tags)
    for item in items:
        assert item["fact_ids"], item
        _assert_grounded(f"{item['task']} {item['qtype']}", f"{item['question']} {item['answer']}", facts, fx)
        if item["task"] != "mcq":
            continue
        assert item["options"][bw.LETTERS.index(item["answer_letter"])] == item["answer"]
        hardness(item, facts)
        sample = bw.think_sample(item, facts, tags)
        if sample is None:
            continue
        _, gpt, steps = sample
        for step in steps:
            _assert_grounded(f"think {item['qtype']}", step, facts, fx)
        # as the stage checks the built-in writer (strict=False: it computes every number it states from the facts)
        released, rows, n_bad = verify_steps(steps, fx, facts, fc.Tolerances(), strict=False)
        assert n_bad == 0 and released == steps, [(r["index"], steps[r["index"]], [(c["kind"], c.get("claim")) for c in r["claims"]]) for r in rows if r["unverifiable"] or r["contradicted"]]
        # GRPO rewards on the writer's own reasoning: well formed, correct, structured score in [0, 1]
        total, parts = combined_reward([gpt], {"format": 1.0, "accuracy": 1.0, "structured": 1.0}, answer_letter=item["answer_letter"],
                                       options=item["options"], answer=item["answer"], truth=truth)
        assert parts["format"] == [1.0] and parts["accuracy"] == [1.0], gpt
        assert 0.0 <= parts["structured"][0] <= 1.0

    # structured truth: a category is known exactly when its fact is
    assert tuple(truth) == CATEGORIES
    assert (truth["BPM"] is None) == (known.tempo(facts) is None)
    assert (truth["Key"] is None) == (known.key(facts) is None)
    assert (truth["Meter"] is None) == (known.meter(facts) is None)
    assert (truth["Theory"] is None) == (not th.chords_of(facts))
    assert (truth["Structure"] is None) == (not known.sections(facts))
    assert (truth["Dynamics"] is None) == (known.number(facts, "loudness_lufs") is None)
    assert 0.0 <= structured_reward(caption, truth) <= 1.0
    scores = coverage_correctness(caption, truth)
    assert all(v is None or 0.0 <= v <= 1.0 for v in scores.values() if not isinstance(v, (list, dict)))
    judge_prompt = build_messages({"caption": caption, "truth": truth})[-1]["content"]
    assert "None" not in judge_prompt and ("REFERENCE: none available." in judge_prompt) == all(v is None for v in truth.values())

    # the LLM writer's prompts: an unknown fact reads "unknown", never "None" or a made-up value
    for prompt in _llm_path(facts, tags, items):
        assert "None" not in prompt, prompt
        lines = dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line and not line.startswith("-"))
        if known.tempo(facts) is None:
            assert lines["Tempo"] == "unknown"
        if known.key(facts) is None:
            assert lines["Key"] == "unknown" and not _NUMERAL_RE.search(lines.get("Chords (start m:ss, chord, Roman numeral)", ""))
        if known.meter(facts) is None:
            assert lines["Meter"] == "unknown"


# ------------------------------------------------------------------ the exact crash of issue 18, and the stage


def _tempo_item(facts: dict, tags: dict) -> dict:
    items = [it for it in bw.qa_items(facts, tags, random.Random(0)) if it["task"] == "mcq" and it["qtype"] == "tempo"]
    assert items, "a track with a tempo gets a tempo question"
    return items[0]


def test_think_steps_on_a_track_without_beats_does_not_crash():
    """`think_steps` indexed `beats[-1]` on an empty beat list (IndexError in `musicflamingo run`, mf_think)."""
    from musicflamingo.testing.synthetic import synthetic_track

    facts, tags = synthetic_track(0)
    facts["beats"] = []
    item = _tempo_item(facts, tags)
    steps = bw.think_steps(item, facts, tags)
    assert steps and any(f"{facts['tempo_bpm']:.0f} BPM" in s for s in steps)
    assert not any(re.search(r"\bbeats? (?:between|are about)|\d+ beats\b", s) for s in steps), steps
    fx = fc.FactIndex.build(facts, tags)
    assert not fc.contradicted(fc.check_text(" ".join(steps), fx))
    for beats in ([4.0], [4.0, 4.0]):  # one beat, or two at the same instant (a zero beat period)
        assert bw.think_steps(item, {**facts, "beats": beats}, tags)


def _bare(facts: dict) -> dict:
    """A real-world failure shape: no beats, no downbeats, no chords, no key, unknown meter."""
    return {**facts, "beats": [], "downbeats": [], "chords": [], "key": None, "key_confidence": None, "key_alternatives": [],
            "section_keys": [], "time_signature": "unknown", "harmonic_rhythm": None,
            "per_tool": {"madmom": {"tempo_bpm": facts["tempo_bpm"], "beats": []}, "essentia": {"tempo_bpm": facts["tempo_alternatives"][0]}},
            "segments": [{**s, "chords": [], "key": None} for s in facts["segments"]]}


def test_mf_think_stage_finishes_on_tracks_without_beats_chords_or_key(tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.testing.synthetic import synthetic_track
    from musicflamingo.io import read_jsonl, write_jsonl
    from musicflamingo.stage import run_stage

    facts, tracks = [], []
    for seed in range(4):
        f, tags = synthetic_track(seed)
        f = _bare(f) if seed < 3 else f  # three bare tracks, one complete one
        facts.append(f)
        tracks.append({"id": f["track_id"], "path": f["path"], "source": "demo", "duration_s": f["duration_s"], "sample_rate": 22050,
                       "channels": 1, "tags": tags})
    write_jsonl(tmp_path / "data/mir_metadata/tracks.jsonl", facts)
    write_jsonl(tmp_path / "data/raw_audio/tracks.jsonl", tracks)
    cfg = compose(["skills.min_heldout_tracks=1", "think.fraction=1.0"])
    skills = run_stage("mf_skills", cfg, tmp_path)
    assert skills["train_items"] > 0
    quarantine = read_jsonl(tmp_path / "data/mf_skills/quarantine.jsonl")
    assert not [q for q in quarantine if "Error" in q["reason"]], quarantine  # no writer crash became a quarantine row
    summary = run_stage("mf_think", cfg, tmp_path)
    assert summary["samples"] > 0
    bare_ids = {f["track_id"] for f in facts[:3]}
    samples = [s for s in read_jsonl(tmp_path / "data/mf_think/train.jsonl") if s["track_id"] in bare_ids]
    assert any(s["qtype"] == "tempo" for s in samples), "the tempo question of a beatless track gets its chain of thought"
    for s in samples:
        assert not re.search(r"\b[A-G][#b]? (?:major|minor)\b", s["conversations"][1]["value"]), s  # no key was known


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("unknown", None), ("H major", None), ("C", None), ("D:maj", "D major"), ("eb min", "Eb minor"),
    ("F# minor", "F# minor"),
])
def test_known_key_reads_only_a_named_key(value, expected):
    assert known.as_key(value) == expected


@pytest.mark.parametrize("value, expected", [
    (None, None), (0.0, None), (-5.0, None), (float("nan"), None), (float("inf"), None), ("120", None), (True, None), (96.5, 96.5),
])
def test_known_tempo_is_a_positive_finite_number(value, expected):
    assert known.tempo({"tempo_bpm": value}) == expected


def test_known_meter_and_numbers():
    assert [known.as_meter(v) for v in ("4/4", " 6 / 8 ", "unknown", "", None, "4/5", "0/4")] == ["4/4", "6/8", None, None, None, None, None]
    assert known.number({"loudness_lufs": float("-inf")}, "loudness_lufs") is None
    assert known.sung_words({"vocals": False, "words": [[1.0, 1.2, "love"]]}) == []
    assert known.lyrics({"vocals": None, "lyrics": " hello "}) == "hello"
