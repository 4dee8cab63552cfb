"""Vocals for the demo corpus: the score's lyrics voiced by espeak-ng.

Each word is synthesised on its own and placed at its note's onset, at a
pitch that follows the melody, so the word timings in the ground-truth
sidecar are exact: they are where we put the samples. A word that does not
fit before the next one is re-spoken faster; if it still does not fit it is
cut, and the sidecar records the cut end.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from musicflamingo.espeak import EspeakError, synthesize

RATES_WPM = (170, 240, 320, 450)  # espeak-ng speaking rates tried in turn until the word fits


VocalError = EspeakError  # the demo corpus quarantines a piece whose vocals fail


def _espeak(word: str, voice: str, pitch: int, rate: int, timeout_s: float) -> tuple[np.ndarray, int]:
    data, sr = synthesize(word, voice, timeout_s, pitch=pitch, rate=rate)
    return _trim(data), sr


def _trim(x: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Drop espeak's leading/trailing silence so the word starts on the note."""
    loud = np.flatnonzero(np.abs(x) > floor)
    return x[loud[0] : loud[-1] + 1] if len(loud) else x[:0]


def _pitch_arg(midi_pitch: int) -> int:
    """espeak's -p is 0..99 (default 50); map the melody's range onto it."""
    return int(np.clip(50 + (midi_pitch - 67) * 3, 5, 95))


def sing(lyric_notes: list[list], voice: str, sample_rate: int, length: int, timeout_s: float = 10.0) -> tuple[np.ndarray, list[list]]:
    """Voice `[[start_s, end_s, word, midi_pitch], ...]` into a mono track of `length` samples.

    Returns (audio, words) with words as `[[start_s, end_s, word]]`, the
    exact span each word's samples occupy.
    """
    import soxr

    track = np.zeros(length, dtype=np.float32)
    words: list[list] = []
    for i, (start, end, word, pitch) in enumerate(lyric_notes):
        slot_end = lyric_notes[i + 1][0] if i + 1 < len(lyric_notes) else end + 1.0
        slot = max(slot_end - start, 0.05)
        for rate in RATES_WPM:
            audio, sr = _espeak(word, voice, _pitch_arg(pitch), rate, timeout_s)
            if sr != sample_rate:
                audio = soxr.resample(audio, sr, sample_rate).astype(np.float32)
            if len(audio) <= slot * sample_rate:
                break
        audio = audio[: int(slot * sample_rate)]
        a = int(round(start * sample_rate))
        if a >= length or not len(audio):
            continue
        audio = audio[: length - a]
        track[a : a + len(audio)] += audio
        words.append([round(a / sample_rate, 4), round((a + len(audio)) / sample_rate, 4), word])
    return track, words


def mix_into(wav_path, vocal: np.ndarray, vocal_gain_db: float) -> None:
    """Mix a mono vocal over a rendered (stereo) WAV in place, `vocal_gain_db` above the accompaniment's RMS."""
    music, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    v = vocal[: len(music)]
    v = np.pad(v, (0, len(music) - len(v)))
    rms_m = float(np.sqrt(np.mean(music**2))) or 1e-4
    voiced = v[np.abs(v) > 1e-4]
    rms_v = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 1.0
    mixed = music + (v * (rms_m / rms_v) * 10 ** (vocal_gain_db / 20))[:, None]
    peak = float(np.max(np.abs(mixed))) or 1.0
    if peak > 0.98:  # keep the mix unclipped: clipping is a quarantine reason downstream
        mixed *= 0.98 / peak
    sf.write(str(wav_path), mixed, sr, format="WAV", subtype="PCM_16")
