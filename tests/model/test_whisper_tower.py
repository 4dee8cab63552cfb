"""The tiny profile's audio tower is Whisper tiny.en: converted weights, checked against CTranslate2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicflamingo.model import whisper_tower as wt
from musicflamingo import whisper_weights as ww
from musicflamingo.model.ctranslate2_spec import read_ctranslate2


def _audio(seconds: float = 12.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(len(t))
    return tone.astype(np.float32)


@pytest.fixture(scope="module")
def tower():
    from transformers import AudioFlamingo3EncoderConfig, AudioFlamingo3Encoder

    return wt.load_into(AudioFlamingo3Encoder(AudioFlamingo3EncoderConfig(**wt.ENCODER_CONFIG))).eval()


def test_converted_tower_matches_ctranslate2_encode(tower):
    # faster-whisper's own encoder (CTranslate2, float32 compute over the float16 weights) on the
    # same features; AF3 pools 2x before its final LayerNorm, Whisper does not, so compare the
    # per-frame output: the last layer's hidden states through the same final LayerNorm.
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor
    from transformers import WhisperFeatureExtractor

    wav = _audio()
    fe = WhisperFeatureExtractor(feature_size=80)
    x = fe(wav, sampling_rate=16000, return_tensors="np")["input_features"]
    # The processor's features are Whisper's (faster-whisper's numpy extractor, same 30 s window).
    ref_fe = FeatureExtractor(feature_size=80)(wav, padding=30 * 16000)[:, :3000]
    np.testing.assert_allclose(x[0], ref_fe, atol=1e-4)
    ct2 = ctranslate2.models.Whisper(str(ww.model_dir()), device="cpu", compute_type="float32")
    ref = np.array(ct2.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(x)), to_cpu=True))[0]
    seen = {}
    hook = tower.layers[-1].register_forward_hook(lambda m, i, o: seen.setdefault("h", o[0] if isinstance(o, tuple) else o))
    with torch.no_grad():
        pooled = tower(torch.from_numpy(x), input_features_mask=torch.ones(1, 3000, dtype=torch.long)).last_hidden_state
        ours = tower.layer_norm(seen["h"])[0].numpy()
    hook.remove()
    assert ours.shape == ref.shape == (1500, 384) and pooled.shape == (1, 750, 384)
    # float16 weights: agreement to ~1e-3 of the output scale (measured: 3e-5 of max |y| ~ 11)
    np.testing.assert_allclose(ours, ref, atol=1e-3 * float(np.abs(ref).max()), rtol=0)
    # and the audio matters: another clip gives another encoding
    other = fe(_audio() * 0.0 + 0.1 * np.sin(np.arange(12 * 16000) / 7.0).astype(np.float32), sampling_rate=16000,
               return_tensors="np")["input_features"]
    with torch.no_grad():
        assert not torch.allclose(tower(torch.from_numpy(other), input_features_mask=torch.ones(1, 3000, dtype=torch.long)).last_hidden_state, pooled, atol=1e-2)


def test_ctranslate2_reader_rejects_truncated_files(tmp_path):
    data = ww.model_bin().read_bytes()[:5000]
    (tmp_path / "model.bin").write_bytes(data)
    with pytest.raises(ValueError, match="truncated"):
        read_ctranslate2(tmp_path / "model.bin")
    with pytest.raises(ValueError, match="bound"):
        read_ctranslate2(tmp_path / "model.bin", max_bytes=100)


def test_key_bias_must_be_zero():
    _, variables = read_ctranslate2(ww.model_bin())
    bad = dict(variables)
    b = np.array(bad["encoder/layer_0/self_attention/linear_0/bias"], dtype=np.float32)
    b[400] = 1.0  # inside the key third (384..767)
    bad["encoder/layer_0/self_attention/linear_0/bias"] = b
    with pytest.raises(ValueError, match="key bias"):
        wt.encoder_state_dict(bad)
