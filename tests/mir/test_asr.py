"""Lyrics from faster-whisper on the bundled Whisper tiny.en, and the confidence gates that decide
whether heard words become facts."""

import numpy as np
import pytest

from musicflamingo.espeak import synthesize
from musicflamingo.mir import asr
from tests.conftest import REPO
from omegaconf import OmegaConf

ASR = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "mir" / "default.yaml"), resolve=True)["asr"]


def test_default_backend_is_faster_whisper_with_vad():
    assert ASR["backend"] == "faster_whisper" and ASR["faster_whisper"]["vad"] is True and ASR["model_path"] is None


def test_bundled_tiny_en_transcribes_spoken_english_with_word_probabilities():
    x, sr = synthesize("the music is playing in the house tonight", "en-us", timeout_s=30, rate=130)
    x = np.concatenate([np.zeros(sr), x, np.zeros(sr)]).astype(np.float32)
    out = asr.lyrics(x, sr, ASR)
    assert out["state"] == "known" and out["language"] == "en"
    assert out["language_probability"] is None  # tiny.en detects no language: it is English by construction
    heard = {w for *_, w, _ in out["all_words"]}
    assert {"music", "house"} <= heard, out["all_words"]
    assert len(out["words"]) == len(out["word_probabilities"]) >= 4
    assert all(p >= ASR["min_word_probability"] for p in out["word_probabilities"])
    assert all(0 <= s <= e <= len(x) / sr for s, e, _ in out["words"])


def test_no_words_from_an_instrumental_chord():
    sr = 16000
    t = np.arange(sr * 8) / sr
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220, 277.2, 329.6)).astype(np.float32)  # A major, held
    out = asr.lyrics(x, sr, ASR)
    assert out["words"] == []


@pytest.mark.parametrize(
    "heard, info, state, n",
    [
        ([[0, 1, "love", 0.9], [1, 2, "you", 0.95], [2, 3, "blue", 0.3]], {"language_probability": None}, "known", 2),
        # mostly unconfident: an English-only model hearing another language
        ([[0, 1, "ave", 0.2], [1, 2, "maria", 0.3], [2, 3, "the", 0.9]], {"language_probability": None}, "unknown", 0),
        # a multilingual model unsure of the language
        ([[0, 1, "love", 0.9]], {"language_probability": 0.4}, "unknown", 0),
        # a backend with no probabilities
        ([[0, 1, "love", None]], {"language_probability": None}, "unknown", 0),
        ([], {"language_probability": None}, "known", 0),
        # most segments looped and were dropped: what is left is no evidence of lyrics
        ([], {"language_probability": None, "failed_segments": 7, "segments": 7}, "unknown", 0),
        ([[0, 1, "love", 0.9]], {"language_probability": None, "failed_segments": 1, "segments": 4}, "known", 1),
        # a looping decode: one confident phrase repeated (tiny.en on a Spanish song)
        ([[i, i + 1, "here", 0.95] for i in range(20)], {"language_probability": None, "compression_ratio": 9.1}, "unknown", 0),
    ],
)
def test_only_confident_words_in_a_confident_language_become_facts(monkeypatch, heard, info, state, n):
    monkeypatch.setattr(asr, "_run", lambda a, sr, cfg: (heard, {"language": "en", "speech_s": 3.0, **info}))
    out = asr.lyrics(np.zeros(16000, np.float32), 16000, ASR)
    assert out["state"] == state and len(out["words"]) == n and out["all_words"] == heard
    assert state == "known" or out["reason"]


def test_model_path_must_be_a_ctranslate2_folder(tmp_path):
    with pytest.raises(ValueError, match="model.bin"):
        asr.lyrics(np.zeros(16000, np.float32), 16000, ASR | {"model_path": str(tmp_path)})
