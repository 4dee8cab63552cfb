"""Lyrics with word timestamps from an ASR backend.

- `pocketsphinx` (default): embedded, ships its US-English acoustic and
  language model; word times come from its segmentation (100 frames/s).
- `whisper`: any Whisper checkpoint loaded by transformers from a local
  path (`mir.asr.whisper_path`); never downloads.

Both take mono float32 at 16 kHz and return `[[start_s, end_s, word], ...]`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

ASR_SR = 16000


@lru_cache(maxsize=None)
def _sphinx(settings: tuple):
    from pocketsphinx import Decoder

    return Decoder(samprate=ASR_SR, loglevel="FATAL", **dict(settings))


def pocketsphinx_words(audio16: np.ndarray, settings: dict | None = None) -> list[list]:
    dec = _sphinx(tuple(sorted((settings or {}).items())))
    pcm = (np.clip(audio16, -1, 1) * 32767).astype(np.int16).tobytes()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    words = []
    for seg in dec.seg():
        w = seg.word
        if w.startswith(("<", "[")) or w in ("", "<sil>"):
            continue  # silence and filler tokens
        w = w.split("(")[0]  # pronunciation variants: `the(2)`
        words.append([round(seg.start_frame / 100, 2), round((seg.end_frame + 1) / 100, 2), w.lower()])
    return words


@lru_cache(maxsize=None)
def _whisper(path: str):
    from transformers import pipeline

    return pipeline("automatic-speech-recognition", model=path, device="cpu")


def whisper_words(audio16: np.ndarray, path: str, language: str | None = None) -> list[list]:
    if not path:
        raise ValueError("mir.asr.backend=whisper needs mir.asr.whisper_path (a local checkpoint folder)")
    kwargs = {"language": language} if language else {}
    out = _whisper(path)({"raw": audio16, "sampling_rate": ASR_SR}, return_timestamps="word", chunk_length_s=30, generate_kwargs=kwargs)
    words = []
    length = len(audio16) / ASR_SR
    for ch in out.get("chunks", []):
        s, e = ch["timestamp"]
        text = ch["text"].strip().lower()
        if text and s is not None and s < length:  # the aligner can run past the audio: keep what lies inside
            words.append([round(float(s), 2), round(min(float(e if e is not None else s), length), 2), text])
    return words


def transcribe(audio: np.ndarray, sr: int, cfg: dict) -> list[list]:
    """Words of the vocals in `audio` with the configured backend."""
    import soxr

    audio16 = soxr.resample(audio, sr, ASR_SR).astype(np.float32) if sr != ASR_SR else audio
    backend = cfg["backend"]
    if backend == "pocketsphinx":
        return pocketsphinx_words(audio16, cfg.get("pocketsphinx"))
    if backend == "whisper":
        return whisper_words(audio16, cfg.get("whisper_path") or "", cfg.get("language"))
    raise ValueError(f"unknown ASR backend {backend!r} (pocketsphinx, whisper, none)")
