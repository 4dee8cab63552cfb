import random

from musicflamingo.data import builtin_writer, factcheck
from musicflamingo.data.formats import LETTERS
from musicflamingo.think_answer import is_well_formed
from musicflamingo.data.split import heldout_ids

FACTS = {
    "track_id": "a" * 64, "path": "x.wav", "duration_s": 45.0, "tempo_bpm": 120.4, "tempo_confidence": 0.9,
    "time_signature": "3/4", "beats": [0.5 * i for i in range(80)], "downbeats": [1.5 * i for i in range(26)],
    "key": "A minor", "key_confidence": 0.8,
    "chords": [[0.0, 0.2, "N"], [0.2, 2.0, "A:min"], [2.0, 4.0, "E:7"], [4.0, 6.0, "A:min"], [6.0, 8.0, "D:min"]],
    "segments": [{"start_s": 0, "end_s": 30}, {"start_s": 30, "end_s": 45}],
}
TAGS = {"instruments": ["violin"], "tradition": "Irish fiddle tune"}


def test_caption_states_the_facts_and_only_them():
    text = builtin_writer.caption(FACTS, TAGS, random.Random(0))
    assert "120 BPM" in text and "A minor" in text and "3/4" in text and "violin" in text
    verdicts = factcheck.check_text(text, FACTS, TAGS)
    assert verdicts and not factcheck.contradicted(verdicts)
    assert {v.kind for v in verdicts if v.verdict == "supported"} >= {"tempo", "key", "meter", "chord", "instrument"}
    no_tags = builtin_writer.caption(FACTS, {}, random.Random(0))
    assert "violin" not in no_tags and "Irish" not in no_tags and "no instrument is named" in no_tags


def test_phrasing_varies_across_seeds():
    texts = {builtin_writer.caption(FACTS, TAGS, random.Random(s)) for s in range(8)}
    assert len(texts) > 2


def test_every_mcq_answer_is_among_four_distinct_options():
    items = builtin_writer.mcq_items(FACTS, TAGS, random.Random(1))
    assert len(items) >= 3
    for it in items:
        assert len(it["options"]) == 4 and len(set(it["options"])) == 4
        assert it["options"][LETTERS.index(it["answer_letter"])] == it["answer"]
        assert it["fact_ids"]


def test_factcheck_rejects_wrong_tempo_key_and_meter():
    for wrong in ("It runs at 240 BPM.", "It is in C major.", "The meter is 4/4."):
        assert factcheck.score(factcheck.check_text(wrong, FACTS)) < 1.0, wrong
    assert factcheck.score(factcheck.check_text("Around 121 BPM in A minor, 3/4.", FACTS)) == 1.0


def test_think_samples_are_well_tagged_and_grounded():
    for it in builtin_writer.mcq_items(FACTS, TAGS, random.Random(2)):
        made = builtin_writer.think_sample(it, FACTS, TAGS)
        if made is None:
            continue
        human, gpt, steps = made
        assert is_well_formed(gpt) and "<think>" in human
        assert all(v.verdict != "contradicted" for s in steps for v in factcheck.check_text(s, FACTS, TAGS))


def test_heldout_split_is_stable_and_never_empty():
    ids = [f"{i:064x}" for i in range(1, 40)]
    held = heldout_ids(ids, 0.25)
    assert held == heldout_ids(list(reversed(ids)), 0.25)
    assert heldout_ids(ids[:3], 0.0, min_heldout=1)
