"""The claim-level fact checker: each claim kind, the true/false rejection rates, repair and the report."""

import json
import random
from pathlib import Path

import pytest

from musicflamingo.data import builtin_writer, factcheck as fc
from musicflamingo.testing import falsify
from musicflamingo.testing.synthetic import synthetic_track

REPO = Path(__file__).resolve().parents[2]

FACTS = {
    "track_id": "b" * 64, "path": "x.wav", "duration_s": 120.0, "tempo_bpm": 100.0, "tempo_confidence": 0.9,
    "time_signature": "4/4", "beats": [0.6 * i for i in range(200)], "downbeats": [2.4 * i for i in range(50)],
    "key": "G major", "key_confidence": 0.8,
    "chords": [[0.0, 4.0, "G:maj"], [4.0, 8.0, "C:maj"], [8.0, 12.0, "D:7"], [12.0, 60.0, "G:maj"], [60.0, 120.0, "E:min"]],
    "sections": [[0.0, 30.0, "intro"], [30.0, 75.0, "verse"], [75.0, 120.0, "chorus"]],
    "section_keys": [[0.0, 75.0, "G major"], [75.0, 120.0, "D major"]],
    "vocals": True, "lyrics": "hold the light", "words": [[31.0, 31.5, "hold"], [32.0, 32.4, "the"], [33.0, 33.6, "light"]],
    "loudness_lufs": -12.0, "tempo_alternatives": [50.0], "per_tool": {"essentia": {"tempo_bpm": 50.0, "key": "E minor"}},
}
TAGS = {"instruments": ["violin", "acoustic grand piano"], "tradition": "Irish fiddle tune"}


def _verdicts(text):
    return {(v.kind, v.verdict) for v in fc.check_text(text, FACTS, TAGS)}


@pytest.mark.parametrize("text,kind", [
    ("It runs at 200 BPM.", "tempo"), ("A relaxed 50 BPM.", "tempo"), ("It is in E minor.", "key"), ("It is in G minor.", "key"),
    ("The meter is 3/4.", "meter"), ("It is in waltz time.", "meter"), ("The progression G - F - C opens it.", "chord"),
    ("At 1:10 the chord is C.", "chord"), ("The chorus starts at 0:50.", "section"), ("The bridge arrives late.", "section"),
    ("It has five sections.", "sections"), ("A saxophone plays the tune.", "instrument"), ("At 0:32 the word \"dark\" is sung.", "lyric"),
    ("It is purely instrumental.", "vocals"), ("The track measures -20 LUFS.", "loudness"), ("At 3:40 the music fades.", "time"),
    ("The tempo sits around 150.", "tempo"), ("♩ = 200 throughout.", "tempo"), ("It moves at 195-205 beats per minute.", "tempo"),
    ("Lush strings swell under the melody.", "instrument"), ("The key is clearly G-minor.", "key"),
    ("It moves from D7 (IV7) to G.", "numeral"),
])
def test_each_false_claim_kind_is_contradicted(text, kind):
    assert (kind, "contradicted") in _verdicts(text), text


@pytest.mark.parametrize("text", [
    "It runs at 101 BPM in G major, in 4/4.", "The progression G - C - D7 - G opens it.", "At 1:10 the chord is Em.",
    "The chorus starts at 1:15.", "It has three sections.", "The violin and the piano share the tune.",
    "At 0:32 the word \"the\" is sung.", "The track measures -12.5 LUFS.", "At 1:15 it modulates to D major.",
    "One tool, essentia, reads 50 BPM and E minor instead.", "The violin has a bright, singing timbre.",
    "It is an Irish fiddle tune.", "Beats fall 0.60 seconds apart, and the verse lasts 45 seconds from 0:30.",
])
def test_true_claims_are_not_contradicted(text):
    verdicts = fc.check_text(text, FACTS, TAGS)
    assert not fc.contradicted(verdicts), [v for v in verdicts if v.verdict == "contradicted"]


def test_unknown_facts_make_claims_unverifiable_not_false():
    bare = {"track_id": "c" * 64, "duration_s": 60.0, "tempo_bpm": 90.0, "key": "C major", "time_signature": "unknown", "chords": []}
    verdicts = fc.check_text("In 3/4, the chorus at 0:30, a saxophone, the word \"love\" is sung.", bare, {})
    assert not fc.contradicted(verdicts)
    assert {v.kind for v in verdicts if v.verdict == "unverifiable"} >= {"meter", "section", "instrument", "lyric"}


def test_repair_drops_only_the_contradicting_sentences():
    fx = fc.FactIndex.build(FACTS, TAGS)
    text = "It runs at 100 BPM. It is in G major. The meter is 4/4. A saxophone doubles the tune."
    fixed = fc.repair(text, fx)
    assert fixed == "It runs at 100 BPM. It is in G major. The meter is 4/4."
    assert fc.repair("It runs at 300 BPM. A banjo plays.", fx) is None


def _rates(tracks):
    true_n = true_rej = false_n = false_rej = 0
    for facts, tags, seed in tracks:
        rng = random.Random(seed)
        fx = fc.FactIndex.build(facts, tags)
        texts = [builtin_writer.caption(facts, tags, rng)] + [f"{it['question']} {it['answer']}" for it in builtin_writer.qa_items(facts, tags, rng)]
        for text in texts:
            true_n += 1
            true_rej += bool(fc.contradicted(fc.check_text(text, fx)))
            for _, wrong in falsify.false_variants(text, facts, tags, rng):
                false_n += 1
                false_rej += bool(fc.contradicted(fc.check_text(wrong, fx)))
        for _, wrong in falsify.free_false_sentences(facts, tags, rng):
            false_n += 1
            false_rej += bool(fc.contradicted(fc.check_text(wrong, fx)))
    return true_rej / true_n, false_rej / false_n, false_n


def test_rejects_at_least_95_percent_of_false_and_at_most_2_percent_of_true_items():
    tracks = [(*synthetic_track(seed), seed) for seed in range(25)]
    true_rate, false_rate, n_false = _rates(tracks)
    print(f"synthetic: rejected {false_rate:.1%} of {n_false} false items, {true_rate:.1%} of true items")
    assert n_false > 300 and false_rate >= 0.95 and true_rate <= 0.02


def test_demo_corpus_writer_output_has_no_contradicted_claim():
    facts_path, tracks_path = REPO / "data/mir_metadata/tracks.jsonl", REPO / "data/raw_audio/tracks.jsonl"
    if not facts_path.exists():
        pytest.skip("demo corpus not built here")
    tags = {json.loads(line)["id"]: json.loads(line).get("tags", {}) for line in tracks_path.open()}
    tracks = [(f, tags.get(f["track_id"], {}), f["track_id"]) for f in map(json.loads, facts_path.open())]
    true_rate, false_rate, _ = _rates(tracks)
    assert true_rate == 0.0 and false_rate >= 0.95


def test_report_counts_claims_and_reasons():
    rep = fc.Report()
    rep.add(fc.check_text("It runs at 100 BPM.", FACTS, TAGS), "kept")
    rep.add(fc.check_text("It runs at 200 BPM.", FACTS, TAGS), "dropped", "contradicts facts: tempo")
    d = rep.as_dict()
    assert d["items"] == 2 and d["dropped"] == 1 and d["claims"]["tempo:contradicted"] == 1 and d["mean_factuality"] == 0.5


def test_tolerances_come_from_config():
    loose = fc.Tolerances.from_cfg({"bpm_relative": 0.25, "time_s": 30})
    assert not fc.contradicted(fc.check_text("About 120 BPM; the chorus starts at 1:30.", FACTS, TAGS, tol=loose))
    assert fc.contradicted(fc.check_text("About 120 BPM.", FACTS, TAGS))


# ------------------------------------------------------------------ issue 14: only what the facts support

ISSUE_FACTS = {"tempo_bpm": 76.0, "key": "E major", "time_signature": "4/4", "duration_s": 47.3, "section_keys": [[0.0, 47.3, "E major"]]}
ISSUE_TAGS = {"instruments": ["acoustic grand piano"]}


@pytest.mark.parametrize("text", [
    "A droning bagpipe carries the melody.", "A drum keeps time.", "A cymbal crashes at the top.", "The hi-hat ticks along.",
    "Bagpipes swell behind the tune.", "A fiddle doubles the line.", "Underneath, a theremin hovers.", "A bagpipe-led tune.",
    "It moves at a hundred and twenty beats per minute.", "It runs twice as fast as a march.", "It is not in E major.",
    "It seems to be in C# minor.", "At 0:42 it modulates to F major.", "Halfway through, the music shifts into F major.",
    "There is no piano anywhere.", "A soprano sings the main melody.", "It is mastered to about minus nine LUFS.",
    "This is a heavy metal track.", "The whole piece lasts about seven minutes.", "The meter is probably three-four time.",
    # found by probing beyond the adversarial generator
    "The song is in the key of F.", "It is in F.", "The tonality is minor.", "It is in a minor key.", "It is a waltz.",
    "It has a key change.", "The tempo doubles in the second half.", "The guitarist strums.", "Hand claps punctuate the beat.",
    "The lyrics mention love.", "It was recorded in 1972.",
])
def test_issue_lies_are_not_released(text):
    fx = fc.FactIndex.build(ISSUE_FACTS, ISSUE_TAGS)
    kept, withheld = fc.release(text, fx)
    assert kept == "" and withheld == [text]


def test_a_claim_split_over_two_sentences_is_not_released():
    fx = fc.FactIndex.build(ISSUE_FACTS, ISSUE_TAGS)
    kept, withheld = fc.release("One figure stands out about the tempo. It sits at 97.", fx)
    assert kept == "One figure stands out about the tempo." and withheld == ["It sits at 97."]
    # The built-in writer's numbers are computed from the facts: they are not stray numbers.
    assert fc.release("It sits at 97.", fx, strict=False)[0] == "It sits at 97."


@pytest.mark.parametrize("text", [
    "A warm piano carries the melody.", "Pianos fill the texture.", "The grand piano answers each phrase.",
    "It moves at seventy-six beats per minute.", "It seems to be in E major.", "It is not in C# minor.", "There is no bagpipe here.",
    "The meter is probably four-four time.", "It never modulates.", "It is mastered with a gentle, intimate mood.",
    "It is in E.", "It is in a major key.", "The pianist plays.", "A march-like bass line walks underneath.",
])
def test_true_statements_in_the_same_frames_are_released(text):
    fx = fc.FactIndex.build(ISSUE_FACTS, ISSUE_TAGS)
    assert fc.release(text, fx)[0] == text, fc.check_text(text, fx)


def test_modulation_is_checked_against_the_section_keys():
    facts = {**ISSUE_FACTS, "duration_s": 90.0, "section_keys": [[0.0, 40.0, "E major"], [40.0, 90.0, "B major"]]}
    fx = fc.FactIndex.build(facts, ISSUE_TAGS)
    assert not fc.blocking(fc.check_text("At 0:41 it modulates to B major.", fx))
    assert fc.contradicted(fc.check_text("At 1:20 it modulates to B major.", fx))  # not near the boundary
    assert fc.contradicted(fc.check_text("It never modulates.", fx))


def test_the_rewriter_never_invents_a_modulation_and_keeps_no_false_text():
    from musicflamingo.data.think_stage import rewrite_step, verify_steps

    fx = fc.FactIndex.build(ISSUE_FACTS, ISSUE_TAGS)
    lie = "At 0:42 it modulates to F major."
    assert rewrite_step(lie, fc.check_text(lie, fx), ISSUE_FACTS) is None
    wrong = "The key estimate is F major."
    released, rows, n_bad = verify_steps([lie, wrong, "So the answer follows."], fx, ISSUE_FACTS, fc.Tolerances())
    assert released == ["The key estimate is E major.", "So the answer follows."] and n_bad == 2
    assert [r["outcome"] for r in rows] == ["removed", "rewritten", "kept"]
    assert "F major" not in json.dumps(rows)


def test_every_gm_program_is_recognised_singular_and_plural():
    from hypothesis import given, settings, strategies as st

    from musicflamingo.data import vocabulary

    fx = fc.FactIndex.build(ISSUE_FACTS, {"instruments": ["bagpipe"]})

    @settings(max_examples=250, deadline=None)
    @given(st.sampled_from([p for p in vocabulary.GM_PROGRAMS if not p.startswith(("lead", "pad", "fx", "bag"))]), st.booleans())
    def check(program, plural):
        name = vocabulary._gm_forms(program)[0]
        noun = vocabulary._engine().plural_noun(name) if plural and not name.endswith("s") else name
        kept, _ = fc.release(f"Listen for the {noun} in the second half.", fx)
        assert kept == "", noun

    check()


def test_a_key_named_while_describing_motion_is_not_a_modulation():
    fx = fc.FactIndex.build(ISSUE_FACTS, ISSUE_TAGS)
    assert fc.release("The melody moves gracefully in E major.", fx)[1] == []
    assert fc.release("The melody moves gracefully into F major.", fx)[0] == ""


PROBE_FACTS = {"tempo_bpm": 120.0, "key": "G minor", "time_signature": "3/4", "duration_s": 150.0, "section_keys": [[0.0, 150.0, "G minor"]],
               "vocals": False, "loudness_lufs": -14.0, "sections": [[0, 40, "intro"], [40, 100, "verse"], [100, 150, "chorus"]],
               "chords": [[0, 50, "G:min"], [50, 100, "D:7"], [100, 150, "C:min"]]}
PROBE_TAGS = {"instruments": ["violin"], "tradition": "Irish and Scottish fiddle tune"}


@pytest.mark.parametrize("text,released", [
    ("A rapper delivers the verses.", False), ("Nobody plays the violin.", False), ("The song has two verses.", False),
    ("It has one verse.", True), ("The progression is I-IV-V.", False), ("It uses a i-iv-V progression.", True),
    ("It has 3 beats per bar.", True), ("Each bar has four beats.", False), ("It was composed in the 18th century.", False),
    ("It's in the relative major.", False), ("The singer hits a high C.", False), ("The word love is sung.", False),
    ("No cadential V-I motion is found.", True), ("A reel, it moves briskly.", True), ("The fiddle plays alone.", True),
])
def test_counts_numerals_performers_and_uncheckable_claims(text, released):
    fx = fc.FactIndex.build(PROBE_FACTS, PROBE_TAGS)
    assert (fc.release(text, fx)[0] == text) is released, fc.check_text(text, fx)
