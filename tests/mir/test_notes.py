"""basic-pitch note evidence (mir.notes), its place in key fusion, and the benchmarks' shared scoring helpers."""

from __future__ import annotations

import numpy as np
import pytest

from musicflamingo.mir import evaluate, fuse, notes, tagger

SR = 22050


def _tones(midis: list[int], seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = np.minimum(1.0, t / 0.02) * np.exp(-t / 3)
    return sum(0.2 * env * np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midis).astype(np.float32)


@pytest.fixture(scope="module")
def c_major_triad():
    return notes.evidence(_tones([60, 64, 67]), SR, [0.5, 1.0, 1.5], 2.0, {})


def test_model_file_is_the_pinned_one(monkeypatch):
    assert notes.model_path().name == "nmp.onnx"
    monkeypatch.setattr(notes, "MODEL_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        notes.model_path()


def test_a_c_major_triad_gives_c_e_g_and_a_c_major_chord(c_major_triad):
    pcp = np.array(c_major_triad["pitch_class_profile"])
    assert set(np.argsort(-pcp)[:3]) == {0, 4, 7} and pcp.sum() == pytest.approx(1.0, abs=1e-3)
    assert {lab for *_, lab in c_major_triad["chords"]} == {"C:maj"}
    assert c_major_triad["notes"] >= 3


def test_silence_gives_no_notes_and_no_chord():
    ev = notes.evidence(np.zeros(SR, dtype=np.float32), SR, [0.5], 1.0, {})
    assert ev["notes"] == 0 and ev["key"] is None and {lab for *_, lab in ev["chords"]} == {"N"}


def test_note_profile_moves_the_fused_key():
    cfg = {"cnn_weight": 0.5, "essentia_weight": 1.0, "chroma_weight": 0.0, "chroma_sharpness": 5.0, "notes_weight": 2.0}
    a_minor = np.roll(fuse.AE_MINOR, 9) / fuse.AE_MINOR.sum()
    probs = np.full(24, 1 / 24)
    assert fuse.key(probs, {}, None, cfg, notes_pcp=a_minor)["key"] == "A minor"
    assert fuse.key(probs, {}, None, cfg | {"notes_weight": 0.0}, notes_pcp=a_minor)["key_confidence"] == pytest.approx(1 / 24, abs=1e-3)


def test_gm_family():
    assert [tagger.gm_family(p) for p in (0, 12, 19, 24, 40, 48, 56, 68, 73)] == [
        "piano", "chromatic percussion", "organ", "guitar", "strings", "ensemble", "brass", "reed", "pipe"]
    with pytest.raises(ValueError):
        tagger.gm_family(128)


def test_instrument_figures_count_top_family_and_precision():
    figs = evaluate.instrument_figures({"a": ["piano", "strings"], "b": ["guitar"], "c": []}, {"a": "piano", "b": "pipe", "c": "reed"})
    assert figs["named_correctly"] == pytest.approx(1 / 3, abs=1e-3) and figs["precision"] == pytest.approx(1 / 3, abs=1e-3)


def test_fusion_study_reruns_fusion_on_stored_tool_outputs():
    mir = {"key": {"profile": "bgate", "profiles": ["bgate"]},
           "fusion": {"tempo": {"prior_bpm": 80, "prior_octaves": 1.0, "madmom_weight": 1.0, "essentia_weight": 0.4, "octave_support": 0.7,
                                "triple_support": 0.2, "confidence_sharpness": 3.0, "ternary_weight": 0.0},
                      "key": {"cnn_weight": 0.5, "essentia_weight": 1.0, "chroma_weight": 2.0, "chroma_sharpness": 5.0, "notes_weight": 1.0},
                      "chords": {"tool_weights": {"chordino": 1.0, "madmom_chords": 1.2, "basic_pitch": 1.0}, "chroma_weight": 1.0, "key_weight": 0.3}}}
    a_minor = list(np.roll(fuse.AE_MINOR, 9) / fuse.AE_MINOR.sum())
    c, g = [[0.0, 4.0, "C:maj"]], [[0.0, 4.0, "G:maj"]]
    pred = {"path": "x/p1.wav", "duration_s": 4.0, "chords": g,
            "per_tool": {"madmom": {"tempo_bpm": 120.0, "beats": [1.0, 2.0, 3.0]}, "essentia": {"tempo_bpm": 120.0},
                         "madmom_chords": {"chords": c}, "chordino": {"chords": g}, "basic_pitch": {"chords": g},
                                             "essentia_bgate": {"key": "C major", "key_confidence": 0.2},
                                             "basic_pitch_key": {"pitch_class_profile": a_minor}}}
    study = evaluate.fusion_study({"p1": {"tempo_bpm": 120.0, "key": "A minor", "chords": c}}, [pred], mir, evaluate.fusion_variants(mir))
    assert study["shipped"]["tempo_acc1"] == 1.0
    assert study["key notes_weight 4.0"]["key_weighted"] == 1.0  # the notes' A minor outweighs essentia's C major
    assert study["key without notes"]["key_weighted"] == pytest.approx(0.3)  # relative major
    assert study["shipped"]["chord_majmin"] == 0.0  # as stored
    assert study["chord vote, no chroma"]["chord_majmin"] == 0.0  # chordino + basic-pitch (2.0) outvote madmom (1.2)
    assert study["chord vote, no chroma, no notes"]["chord_majmin"] == 1.0
    assert study["chords madmom_chords alone"]["chord_majmin"] == 1.0
