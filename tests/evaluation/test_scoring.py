"""Official scoring rules: MuChoMusic extraction, MMAU string match, closed-set mapping, WER/CER."""

from __future__ import annotations

import pytest

from musicflamingo.evaluation import paper, scoring
from musicflamingo.evaluation.benchmarks import BenchItem
from musicflamingo.evaluation.benchmarks.gtzan import GENRES, SYNONYMS as GTZAN_SYN
from musicflamingo.evaluation.benchmarks.medley_solos import INSTRUMENTS, SYNONYMS as MEDLEY_SYN
from musicflamingo.evaluation.benchmarks.nsynth import FAMILIES, FAMILY_SYNONYMS

OPTS = ["Four on the floor", "Off-beat syncopation", "Scat singing", "A simple guitar melody"]


def mucho(answer_index=1, **meta) -> BenchItem:
    meta = {"answer_index": answer_index, "genre": "Reggae", "music_reasoning": ["genre and style"],
            "music_knowledge": [], **meta}
    return BenchItem("muchomusic", "q", ["a.wav"], "What rhythm?", OPTS, OPTS[answer_index], "mcq", meta)


# ------------------------------------------------------------------ MuChoMusic


@pytest.mark.parametrize("output,expected", [
    ("B", (1, "letter")),
    ("(B)", (1, "letter")),
    ("B) Off-beat syncopation", (1, "letter")),
    ("The correct answer is: B.", (1, "letter")),
    ("Answer: [C]", (2, "letter")),
    ("Options: (A) x (B) y. The correct answer is: C", (2, "letter")),  # only text after the official prefix
    ("(B) ... yes, (B).", (1, "letter")),                       # one distinct letter, said twice
    ("A or B", (None, "none")),                                 # two letters -> text match, none -> unanswered
    ("A or B, I would say off-beat syncopation", (1, "text")),  # two letters -> falls back to option text
    ("The drums play off-beat syncopation throughout the track.", (1, "text")),  # answer inside a sentence
    ("Drums and Bass", (None, "none")),                         # capitals inside words are not letters
    ("Option E", (None, "none")),                               # E is not an option letter for four options
])
def test_muchomusic_extraction_standalone(output, expected):
    assert scoring.extract_muchomusic_choice(output, OPTS) == expected


def test_muchomusic_official_letter_rule_reads_any_capital():
    # Upstream checks characters: the "D" of "Drums" is a letter D there.
    assert scoring.extract_muchomusic_choice("Drums", OPTS, letter_rule="official") == (3, "letter")
    assert scoring.extract_muchomusic_choice("Drums", OPTS) == (None, "none")


def test_muchomusic_text_fallback_takes_first_option_in_presented_order():
    out = "scat singing over four on the floor"
    assert scoring.extract_muchomusic_choice(out, OPTS) == (0, "text")


def test_score_muchomusic_breakdowns_and_reasoning_traces():
    items = [mucho(1), mucho(1, genre="Pop", music_reasoning=[], music_knowledge=["instrumentation"]), mucho(2)]
    outputs = ["<think>A looks wrong, C too</think><answer>(B)</answer>", "I pick A", "B"]
    res = scoring.score_muchomusic(items, outputs)
    assert [v["correct"] for v in res.verdicts] == [True, False, False]
    assert res.metrics["accuracy"] == pytest.approx(1 / 3) and res.metrics["n"] == 3
    assert res.metrics["by_genre"]["Reggae"] == {"accuracy": 0.5, "correct": 1, "n": 2}
    assert res.metrics["by_music_knowledge"]["instrumentation"]["n"] == 1
    assert res.metrics["reasoning"]["n"] == 2 and res.metrics["knowledge"]["n"] == 1
    assert res.metrics["chance"] == pytest.approx(0.25)
    # Without stripping, the trace mentions A, B and C -> not a single letter -> no option text -> wrong.
    raw = scoring.score_muchomusic(items[:1], outputs[:1], strip_reasoning=False)
    assert raw.verdicts[0]["correct"] is False


# ------------------------------------------------------------------ MMAU / MMAR string match

GUITARS = ["Electric guitar", "Acoustic guitar", "Saxophone", "Violin"]


@pytest.mark.parametrize("prediction,ok", [
    ("Electric guitar", True),
    ("The lead line is played on an electric guitar.", True),   # answer inside a longer sentence
    ("electric guitar, not acoustic", False),                    # a wrong choice's token -> wrong
    ("Electric guitar or saxophone", False),
    ("guitar", False),                                           # not every answer token
    ("ELECTRIC-guitar!!", True),                                 # case and punctuation ignored
    ("", False),
])
def test_mmau_string_match(prediction, ok):
    assert scoring.mmau_string_match("Electric guitar", prediction, GUITARS) is ok


def test_string_match_ignores_wrong_choice_tokens_shared_with_answer():
    # "guitar" belongs to a wrong choice too, but it is also an answer token, so it does not count against.
    assert scoring.mmau_string_match("Acoustic guitar", "acoustic guitar", GUITARS)


def test_score_string_match_mmar_breakdown():
    items = [
        BenchItem("mmar", "1", ["a.wav"], "q", ["Japan", "China"], "Japan", "mcq", {"modality": "music"}),
        BenchItem("mmar", "2", ["b.wav"], "q", ["Once", "Twice", "Three times"], "Twice", "mcq",
                  {"modality": "mix-sound-music"}),
    ]
    res = scoring.score(items, ["It is from Japan", "Twice, maybe three times"])
    assert [v["correct"] for v in res.verdicts] == [True, False]
    assert res.metrics["by_modality"]["music"]["accuracy"] == 1.0
    assert res.metrics["chance"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert "string_match" in res.rule


def test_mmau_pro_rule_names_its_upstream_matcher():
    it = BenchItem("mmau_pro", "1", ["a.wav"], "q", ["3/4", "4/4"], "3/4", "mcq", {})
    res = scoring.score([it], ["3/4"])
    assert res.verdicts[0]["correct"] and "NV-Embed" in res.rule


# ------------------------------------------------------------------ classification


@pytest.mark.parametrize("output,label,how", [
    ("rock", "rock", "exact"),
    ("Hip-Hop", "hiphop", "exact"),
    ("This sounds like hip hop to me.", "hiphop", "mapped"),
    ("Genre: heavy metal", "metal", "mapped"),
    ("pop rock", None, "ambiguous"),
    ("It is electronic dance music", None, "none"),
])
def test_map_to_label_gtzan(output, label, how):
    assert scoring.map_to_label(output, GENRES, GTZAN_SYN) == (label, how)


def test_map_to_label_prefers_longer_mentions_and_plurals():
    assert scoring.map_to_label("a double bass", FAMILIES, FAMILY_SYNONYMS) == ("string", "mapped")
    assert scoring.map_to_label("Strings", FAMILIES, FAMILY_SYNONYMS) == ("string", "exact")
    assert scoring.map_to_label("two violins", FAMILIES, FAMILY_SYNONYMS) == ("string", "mapped")
    assert scoring.map_to_label("synth lead", FAMILIES, FAMILY_SYNONYMS)[0] == "synth_lead"
    assert scoring.map_to_label("A distorted electric guitar solo", INSTRUMENTS, MEDLEY_SYN)[0] == \
        "distorted electric guitar"
    assert scoring.map_to_label("a tenor sax", INSTRUMENTS, MEDLEY_SYN)[0] == "tenor saxophone"


def test_score_classification_accuracy_and_chance():
    def item(i, label):
        return BenchItem("medley_solos_db", str(i), ["a.wav"], "Which?", list(INSTRUMENTS), label,
                         "classification", {"label_synonyms": MEDLEY_SYN})
    items = [item(0, "violin"), item(1, "female singer"), item(2, "piano")]
    res = scoring.score(items, ["Violin.", "A woman singing", "piano and violin"])
    assert [v["correct"] for v in res.verdicts] == [True, True, False]
    assert res.metrics["unmapped"] == 1
    assert res.metrics["chance"] == pytest.approx(0.125)
    assert res.metrics["by_label"]["piano"]["accuracy"] == 0.0


# ------------------------------------------------------------------ WER / CER


def lyric(text, lang="en", i="0", bench="musdb18_lyrics"):
    return BenchItem(bench, i, ["a.wav"], "Transcribe", None, text, "asr", {}, language=lang)


def test_wer_number_normalisation():
    res = scoring.score([lyric("two cats")], ["2 cats"])
    assert res.metrics["wer"] == 0.0
    assert "digits" in res.normalisation or "digit" in res.normalisation
    assert scoring.normalise_english("The 3rd time, 1,999 ways; don't stop!") == \
        "the third time one thousand nine hundred ninety nine ways dont stop"
    assert scoring.number_to_words(105) == "one hundred five"
    assert scoring.number_to_words(9999) == "nine thousand nine hundred ninety nine"


def test_wer_is_corpus_level_and_counts_errors():
    items = [lyric("we sang until the morning light", i="a"), lyric("hello there", i="b")]
    res = scoring.score(items, ["We sang until morning LIGHT!", "hello their friend"])
    # 1 deletion over 6 words, then 1 substitution + 1 insertion over 2 words -> 3 / 8.
    assert res.metrics["wer"] == pytest.approx(3 / 8)
    assert res.verdicts[0]["wer"] == pytest.approx(1 / 6)
    assert res.metrics["n"] == 2


def test_chinese_cer_strips_punctuation_and_spaces():
    items = [lyric("我们一起唱歌", "zh", bench="opencpop"), lyric("你好", "zh", "1", bench="opencpop")]
    res = scoring.score(items, ["我们，一齐 唱。", "你好！"])
    # 一起唱歌 vs 一齐唱: 1 substitution + 1 deletion over 6 + 2 characters.
    assert res.metrics["cer"] == pytest.approx(2 / 8)
    assert res.verdicts[1]["cer"] == 0.0
    assert res.verdicts[0]["hypothesis"] == "我们一齐唱"
    assert res.normalisation == scoring.CHINESE_NORMALISATION


def test_asr_skips_empty_reference_and_rejects_mixed_languages():
    res = scoring.score([lyric("!!!"), lyric("yes", i="1")], ["x", "yes"])
    assert res.metrics["skipped"] == 1 and res.metrics["wer"] == 0.0
    with pytest.raises(ValueError, match="mixed languages"):
        scoring.score_asr([lyric("a"), lyric("b", "zh", "1")], ["a", "b"])


# ------------------------------------------------------------------ plumbing and paper numbers


def test_evaluate_calls_predict_once_and_checks_lengths():
    items = [mucho(1), mucho(2)]
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return ["(B)", "(C)"]

    res = scoring.evaluate(items, predict)
    assert calls == [2] and res.metrics["accuracy"] == 1.0
    with pytest.raises(ValueError, match="2 items"):
        scoring.evaluate(items, lambda batch: ["B"])
    with pytest.raises(ValueError, match="one benchmark"):
        scoring.score([mucho(), lyric("a")], ["B", "a"])


def test_final_answer_text():
    assert scoring.final_answer_text("<think>A? B?</think>C") == "C"
    assert scoring.final_answer_text("reasoning about A</think> the answer is D") == "the answer is D"
    assert scoring.final_answer_text("<think>never closed A B C") == ""


def test_paper_reference_values():
    mc = paper.reference("muchomusic")
    assert (mc.music_flamingo, mc.previous_best, mc.previous_best_model) == (74.58, 52.10, "Qwen3-O")
    assert paper.reference("mmau", "test-mini").music_flamingo == 76.35
    assert paper.reference("opencpop").higher_is_better is False
    assert paper.reference("gtzan").as_fraction() == pytest.approx((0.8445, 0.80))
    with pytest.raises(ValueError):
        paper.reference("mmau")  # two variants
    assert paper.chance_level("nsynth_family") == pytest.approx(1 / 11)
    assert paper.chance_level("opencpop") is None
    assert paper.ABLATION_WITHOUT_RL["muchomusic"] == 69.5
