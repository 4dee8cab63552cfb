"""espeak-ng as a bounded subprocess: the one synthesiser behind the sung demo
vocals (`audio/vocals.py`) and the speech/lyrics ASR corpus (`speech/corpus.py`)."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile as sf

MAX_OUTPUT_BYTES = 50_000_000  # ~10 min of 22 kHz 16-bit speech: far beyond any word or sentence


class EspeakError(Exception):
    """espeak-ng is missing, failed, ran past its time limit or wrote too much."""


def synthesize(text: str, voice: str, timeout_s: float, pitch: int = 50, rate: int = 160) -> tuple[np.ndarray, int]:
    """`text` spoken by espeak-ng `voice` (pitch 0-99, rate in words per minute): float32 mono, sample rate."""
    cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "--stdout", text]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError as e:
        raise EspeakError("espeak-ng is not installed (apt-get install espeak-ng)") from e
    except subprocess.TimeoutExpired as e:
        raise EspeakError(f"espeak-ng ran past {timeout_s} s on {text!r}") from e
    if proc.returncode != 0 or len(proc.stdout) < 64:
        raise EspeakError(f"espeak-ng exit {proc.returncode} on {text!r}: {proc.stderr.decode(errors='replace')[-200:]}")
    if len(proc.stdout) > MAX_OUTPUT_BYTES:
        raise EspeakError(f"espeak-ng wrote {len(proc.stdout)} bytes for {text!r} (limit {MAX_OUTPUT_BYTES})")
    data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return data, sr
