"""Structured ground truth, the structured-thinking match/reward, coverage vs correctness, embedding similarity."""

from __future__ import annotations

import socket

import pytest

from musicflamingo.evaluation.captions import coverage_correctness, embedding_similarity
from musicflamingo.data.structured import (
    CATEGORIES,
    match_category,
    mentions_category,
    structured_reward,
    structured_truth,
)

FACTS = {
    "track_id": "t1", "duration_s": 30.0, "tempo_bpm": 139.5, "time_signature": "4/4", "key": "D major",
    "chords": [[0.0, 4.0, "D:maj"], [4.0, 6.0, "A:maj"], [6.0, 8.5, "B:min7"], [8.5, 10.0, "G:maj/5"],
               [10.0, 14.0, "N"], [14.0, 14.5, "E:min"]],
    "beats": [0.43, 0.86], "segments": [{"start_s": 0.0, "end_s": 30.0}],
}
TAGS = {"tradition": "Bach chorale", "instruments": ["violin", "string ensemble"]}


@pytest.fixture
def truth():
    return structured_truth(FACTS, TAGS)


# ------------------------------------------------------------------ structured truth


def test_truth_has_all_categories_and_known_values(truth):
    assert tuple(truth) == CATEGORIES
    assert truth["Genre"] == "Bach chorale"
    assert truth["BPM"] == "139.5"
    assert truth["Key"] == "D major"
    assert truth["Meter"] == "4/4"
    assert truth["Instruments"] == "violin, string ensemble"
    assert truth["Theory"] == "D, Bm7, A, G"  # by total duration, "N" excluded, top 4


def test_truth_never_invents_unknowns(truth):
    # No sections / vocals / lyrics / loudness / mix facts: those stay unknown.
    for cat in ("Structure", "Vocal Character", "Lyric Themes", "Mix Notes", "Dynamics"):
        assert truth[cat] is None
    empty = structured_truth({"tempo_bpm": 0.0, "key": "", "time_signature": "", "chords": [[0, 5, "N"]]}, {})
    assert all(v is None for v in empty.values())
    assert all(v is None for v in structured_truth({}, None).values())
    # Segments are fixed analysis windows, not musical sections.
    assert structured_truth({"segments": [{"start_s": 0, "end_s": 30}]}, {})["Structure"] is None


def test_truth_uses_optional_facts_when_present():
    t = structured_truth({**FACTS, "key": "Db minor", "loudness_lufs": -9.04, "vocals": "breathy female lead",
                          "lyric_themes": ["heartbreak", "nostalgia"],
                          "sections": [{"label": "intro"}, {"label": "verse"}, {"label": "chorus"}]}, TAGS)
    assert t["Key"] == "C# minor"  # our pitch-class spelling
    assert t["Dynamics"] == "-9.0 LUFS"
    assert t["Vocal Character"] == "breathy female lead"
    assert t["Lyric Themes"] == "heartbreak, nostalgia"
    assert t["Structure"] == "intro - verse - chorus"
    assert structured_truth({"vocals": False}, {})["Vocal Character"] == "instrumental"


# ------------------------------------------------------------------ matching


@pytest.mark.parametrize("caption,expected", [
    ("Driving along at 139 BPM.", True),
    ("around 140 bpm", True),
    ("a tempo of roughly 135", True),          # 3.2 % off, no unit but a tempo number
    ("♩ = 138", True),
    ("somewhere between 130-145 beats per minute", True),
    ("a brisk 279 BPM", False),               # double tempo is wrong
    ("a stately 70 BPM", False),              # half tempo is wrong
    ("at 130 BPM", False),                    # 6.8 % off
    ("a fast tempo", False),
    ("the tempo changes at 140 seconds", False),
])
def test_bpm_match(caption, expected):
    assert match_category("BPM", "139.5", caption) is expected


@pytest.mark.parametrize("truth_key,caption,expected", [
    ("D major", "It is in D major.", True),
    ("D major", "A D-major chorale", True),
    ("D major", "written in D maj", True),
    ("D major", "in the key of D", True),
    ("D major", "in D minor", False),
    ("D major", "in B minor", False),          # relative minor is not the key
    ("D major", "over a D major chord", False),  # a chord, not a key
    ("C# major", "in Db major", True),         # enharmonic
    ("C# major", "in D-flat major", True),
    ("Bb minor", "in A# minor", True),
    ("Bb minor", "in B minor", False),
    ("F# minor", "key: F#m", True),
    ("F# minor", "in G flat minor", True),
    ("A minor", "a minor change of colour", False),  # lowercase 'a' is the article
    ("A minor", "Nice. A minor detail: it ends early.", False),  # sentence-initial article
    ("A minor", "A minor key piece.", True),
    ("A minor", "It is in A minor.", True),
])
def test_key_match(truth_key, caption, expected):
    assert match_category("Key", truth_key, caption) is expected


@pytest.mark.parametrize("sig,caption,expected", [
    ("4/4", "in 4/4", True),
    ("4/4", "in four-four time", True),
    ("4/4", "in common time", True),
    ("4/4", "in 3/4", False),
    ("4/4", "three quarters, 3/4 of the piece", False),
    ("3/4", "in waltz time", True),
    ("3/4", "a triple meter", True),
    ("6/8", "compound duple", True),
    ("3/4", "compound duple", False),
    ("2/2", "alla breve", True),
])
def test_meter_match(sig, caption, expected):
    assert match_category("Meter", sig, caption) is expected


@pytest.mark.parametrize("truth_value,caption,expected", [
    ("string ensemble", "lush strings", True),
    ("acoustic grand piano", "a solo piano", True),
    ("church organ", "a pipe organ", True),
    ("nylon-string guitar", "classical guitar", True),
    ("violin, string ensemble", "a violin over a drum kit", True),  # half of two
    ("violin, string ensemble", "a piano", False),
    ("harp", "a harpsichord", False),            # whole words only
    ("choir aahs", "choir voices", True),
    ("choir aahs", "aahs", False),               # generic head nouns don't count
])
def test_instrument_synonyms(truth_value, caption, expected):
    assert match_category("Instruments", truth_value, caption) is expected


@pytest.mark.parametrize("caption,expected", [
    ("The progression D - A - Bm - G repeats.", True),
    ("chords: D, Bm7, A", True),
    ("a D major chord and a B minor chord", True),
    ("D:maj to B:min", True),
    ("A chord-driven piece in D major.", False),   # article 'A' and a key are not chords
    ("Em and C", False),
])
def test_theory_match(caption, expected):
    assert match_category("Theory", "D, Bm7, A, G", caption) is expected


def test_genre_structure_dynamics_vocals():
    assert match_category("Genre", "Bach chorale", "a four-part chorale harmonisation")
    assert match_category("Genre", "Bach chorale", "a Baroque hymn")
    assert not match_category("Genre", "Bach chorale", "an upbeat pop song")
    assert match_category("Genre", "Ragtime (Joplin)", "a syncopated piano rag")
    assert match_category("Structure", "intro - verse - chorus - verse - chorus", "opens with an intro into the verse")
    assert not match_category("Structure", "intro - verse - chorus", "a bridge")
    assert match_category("Structure", "A - A - B - A", "an AABA form")
    assert match_category("Dynamics", "-9.0 LUFS", "loud and compressed")
    assert not match_category("Dynamics", "-9.0 LUFS", "soft and intimate")
    assert not match_category("Dynamics", "-9.0 LUFS", "moderately loud")
    assert match_category("Dynamics", "-30.0 LUFS", "hushed")
    assert match_category("Dynamics", "-9.0 LUFS", "mastered at -10 LUFS")
    assert match_category("Vocal Character", "instrumental", "a purely instrumental piece")
    assert match_category("Vocal Character", "instrumental", "without vocals")
    assert not match_category("Vocal Character", "instrumental", "a tenor sings")
    assert match_category("Vocal Character", "breathy female lead", "a breathy alto")


def test_unknown_truth_is_none_and_bad_category_raises():
    assert match_category("Structure", None, "verse chorus") is None
    with pytest.raises(ValueError):
        match_category("Tempo", "120", "120 BPM")


def test_structured_reward_is_matched_over_known(truth):
    perfect = ("A Bach chorale in D major at 140 BPM in 4/4 for violin and strings, "
               "moving D - A - Bm - G.")
    assert structured_reward(perfect, truth) == 1.0
    half = "A Bach chorale for violin in D major, 4/4."  # genre, key, meter, instruments of 6 known
    assert structured_reward(half, truth) == pytest.approx(4 / 6)
    assert structured_reward("", truth) == 0.0
    assert structured_reward("anything", dict.fromkeys(CATEGORIES)) == 0.0
    # Pure: same inputs, same output; the truth is not modified.
    before = dict(truth)
    assert structured_reward(half, truth) == structured_reward(half, truth)
    assert truth == before


# ------------------------------------------------------------------ coverage vs correctness


def test_wrong_bpm_covers_but_is_not_correct(truth):
    res = coverage_correctness("A Bach chorale at 279 BPM.", truth)
    assert "BPM" in res["mentioned"] and "BPM" not in res["correct"]
    assert res["coverage"] == pytest.approx(2 / 6)   # genre, BPM
    assert res["correctness"] == pytest.approx(1 / 2)  # genre right, BPM wrong


def test_coverage_correctness_crafted(truth):
    wrong = "In E minor, 3/4 time, at 90 BPM, for solo trumpet; a C - G - Am - F loop in a pop style."
    res = coverage_correctness(wrong, truth)
    assert res["mentioned"] == ["Genre", "BPM", "Key", "Meter", "Instruments", "Theory"]
    assert res["correct"] == [] and res["coverage"] == 1.0 and res["correctness"] == 0.0

    right = "A Bach chorale in D major, 4/4, 140 BPM."
    res = coverage_correctness(right, truth)
    assert res["coverage"] == pytest.approx(4 / 6) and res["correctness"] == 1.0

    res = coverage_correctness("A pleasant piece.", truth)
    assert res["coverage"] == 0.0 and res["correctness"] == 0.0
    assert coverage_correctness("x", dict.fromkeys(CATEGORIES))["coverage"] == 0.0


@pytest.mark.parametrize("category,caption", [
    ("BPM", "at 60 BPM"), ("Key", "in F# minor"), ("Meter", "in 7/8"), ("Instruments", "a banjo"),
    ("Theory", "a ii - V - I progression"), ("Genre", "a jazz tune"), ("Structure", "a short bridge"),
    ("Dynamics", "a slow crescendo"),
])
def test_mentions_detect_any_value(category, caption):
    assert mentions_category(category, caption)


# ------------------------------------------------------------------ embeddings


@pytest.mark.slow  # ~11 s on a busy 2-core box: torch + transformers import and the model load
def test_embedding_similarity_paraphrase_beats_unrelated(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("embedding model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ref = "A slow solo piano ballad in D major with gentle dynamics."
    sims = embedding_similarity(
        ["A gentle, slow ballad played on solo piano in the key of D major.",
         "The stock market fell sharply on Tuesday after the earnings report."],
        [ref, ref],
    )
    assert len(sims) == 2 and all(-1.0 <= s <= 1.0 for s in sims)
    assert sims[0] > 0.7 and sims[0] > sims[1] + 0.4
    assert embedding_similarity([], []) == []
    with pytest.raises(ValueError):
        embedding_similarity(["a"], [])
