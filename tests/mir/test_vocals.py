"""Vocals three-valued: calibrated probability, fixed cut-offs, windows never more sure than the track."""

import numpy as np
import pytest

from musicflamingo.mir import annotate, tagger, vocals

CFG = {"platt_a": 20.0, "platt_b": -2.0, "yes_probability": 0.9, "no_probability": 0.1}


@pytest.mark.parametrize("p, state, conf", [(0.97, "yes", 0.97), (0.9, "yes", 0.9), (0.5, "unknown", 0.5), (0.3, "unknown", 0.7), (0.02, "no", 0.98)])
def test_states_and_the_confidence_of_the_stated_state(p, state, conf):
    assert vocals.decide(p, CFG) == (state, conf)
    assert vocals.AS_BOOL[state] is {"yes": True, "no": False, "unknown": None}[state]


def test_evidence_is_voice_tags_minus_no_voice_tags_and_the_score_its_upper_quartile():
    labels = tagger.INSTRUMENT_FAMILY.keys() | set(vocals.VOICE_TAGS) | set(vocals.NO_VOICE_TAGS)
    labels = sorted(labels)
    tg = np.zeros((4, len(labels)))
    tg[:, labels.index("no vocals")] = 0.1
    tg[2:, labels.index("female")] = 0.8  # a song whose first half is an instrumental intro
    ev = vocals.patch_evidence(tg, labels)
    np.testing.assert_allclose(ev, [-0.1, -0.1, 0.7, 0.7])
    out = vocals.detect(ev, CFG)
    assert out["score"] == pytest.approx(0.7) and out["state"] == "yes" and out["probability"] > 0.99
    assert vocals.detect(np.full(3, -0.1), CFG)["state"] == "no"
    assert vocals.detect(np.array([]), CFG) == {"state": "unknown", "confidence": 0.0, "probability": None, "score": None}


def test_a_window_is_never_yes_where_the_track_is_not():
    ev = np.array([0.8, 0.8, -0.1, -0.1, 0.8])
    facts = {"_vocal_evidence": ev, "vocals_state": "unknown"}
    assert annotate._window_vocals(facts, 0.0, 6.0, CFG) is None  # the patches say yes, the track does not
    assert annotate._window_vocals(facts | {"vocals_state": "yes"}, 0.0, 6.0, CFG) is True
    assert annotate._window_vocals(facts, 6.0, 12.0, CFG) is False


def test_tagger_instruments_reach_the_caption_and_the_claim_checker():
    import random

    from musicflamingo.data import builtin_writer, factcheck as fc

    facts = {"instruments": [["guitar", "guitar", 0.82]], "vocals": None}
    text = " ".join(builtin_writer._instrumentation({}, random.Random(0), facts))
    assert "guitar" in text and "0.82" in text
    verdicts = {(v.claim, v.verdict) for v in fc.check_text("It is played on guitar. It is played on piano.", facts, {})}
    assert {v for c, v in verdicts if "guitar" in c} == {"supported"} and {v for c, v in verdicts if "piano" in c} == {"contradicted"}
    assert "no instrument is named" in " ".join(builtin_writer._instrumentation({}, random.Random(0), {"instruments": []}))
