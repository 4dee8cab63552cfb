"""musicnn (MTT) ported to torch and run as its ONNX export: same outputs as the original TF graph, and the float16 overflow fixed."""

import json

import numpy as np
import pytest

from musicflamingo.mir import tagger
from tests.conftest import REPO


def _synthetic_patches():  # = weights/convert_musicnn.py synthetic_patches()
    rng = np.random.default_rng(17)
    return np.abs(rng.normal(1.0, 0.7, (2, tagger.PATCH_FRAMES, tagger.N_MELS))).astype(np.float32)


def test_torch_port_matches_the_original_tensorflow_graph():
    ref = json.loads((REPO / "tests" / "fixtures" / "musicnn_tf_reference.json").read_text())
    got = tagger.taggram_from_patches(_synthetic_patches())
    assert got.shape == (2, 50) and len(tagger.labels()) == 50
    np.testing.assert_allclose(got, np.array(ref["probs"]), atol=2e-5)


def test_onnx_export_is_the_torch_port():
    torch = pytest.importorskip("torch")
    model, labels = tagger.load_torch()
    patches = np.random.default_rng(3).normal(2.0, 1.0, (5, tagger.PATCH_FRAMES, tagger.N_MELS)).astype(np.float32)
    with torch.inference_mode():
        want = torch.sigmoid(model(torch.from_numpy(patches))[0]).numpy()
    np.testing.assert_allclose(tagger.taggram_from_patches(patches), want, atol=1e-5)
    np.testing.assert_allclose(tagger.taggram_from_patches(patches, batch_size=5), want, atol=1e-5)
    assert tagger.labels() == labels


def _chord(sr, seconds, gain):
    t = np.arange(int(sr * seconds)) / sr
    return (gain * sum(np.sin(2 * np.pi * f * t) for f in (196.0, 246.9, 293.7))).astype(np.float32)


def test_loud_audio_gives_finite_distinct_tags_where_float16_overflowed():
    sr = 16000
    rng = np.random.default_rng(0)
    loud_chord = _chord(sr, 6, 0.9)
    loud_noise = (0.9 * rng.uniform(-1, 1, sr * 6)).astype(np.float32)
    mel = tagger.log_mel(loud_chord)
    # musicnn's own preprocessing casts to float16 first: 10000 * x overflows (the bug being fixed).
    import librosa

    raw = librosa.feature.melspectrogram(y=loud_chord, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    with np.errstate(over="ignore"):
        assert np.isinf(np.log10(10000 * raw.astype(np.float16) + 1)).any()
    assert np.isfinite(mel).all() and mel.max() > np.log10(10000 * 6.56)
    a, b = tagger.taggram(loud_chord, sr), tagger.taggram(loud_noise, sr)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert np.abs(a.mean(0) - b.mean(0)).max() > 0.05  # different audio, different tags


def test_clips_shorter_than_a_patch_are_repeat_padded():
    sr = 22050
    short = _chord(sr, 1.0, 0.3)
    tg = tagger.taggram(short, sr)
    assert tg.shape == (1, 50) and np.isfinite(tg).all() and (0 <= tg).all() and (tg <= 1).all()
    assert tagger.taggram(_chord(sr, 7.0, 0.3), sr).shape == (2, 50)  # 7 s: two full 3 s patches, tail dropped
    with pytest.raises(ValueError, match="no audio"):
        tagger.patches(np.zeros((0, 96), np.float32))


@pytest.mark.parametrize("attr, loader", [("WEIGHTS", "load_torch"), ("WEIGHTS_ONNX", "load")])
def test_altered_weights_are_refused(tmp_path, monkeypatch, attr, loader):
    bad = tmp_path / "w.bin"
    bad.write_bytes(b"not weights")
    monkeypatch.setattr(tagger, attr, bad)
    getattr(tagger, loader).cache_clear()
    with pytest.raises(ValueError, match="sha256"):
        getattr(tagger, loader)()
    getattr(tagger, loader).cache_clear()
