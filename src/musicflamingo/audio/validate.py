"""Decode and validate one audio file, or say precisely why it is rejected.

Decoders are forgiving: libsndfile reads a truncated Ogg or WAV up to the
cut and reports the shorter length as if nothing were wrong. So before
decoding we check the container itself (RIFF chunk sizes, Ogg end-of-stream
page, FLAC sample count), and after decoding we check length, silence and
clipping. Every rejection is a `Rejected(reason)`; the caller turns it into a
quarantine row.
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class Rejected(Exception):
    """The file is not usable audio; `str(exc)` is the quarantine reason."""


@dataclass
class Decoded:
    samples: np.ndarray  # float32, shape (frames,) mono
    sample_rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _check_riff(path: Path, size: int) -> None:
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                if chunk_size == 0 and pos + 8 == size:
                    raise Rejected("header only: WAV has no sample data")
                if chunk_size != 0xFFFFFFFF and pos + 8 + chunk_size > size:
                    raise Rejected(f"truncated: WAV data chunk declares {chunk_size} bytes, file holds {size - pos - 8}")
                return
            pos += 8 + chunk_size + (chunk_size & 1)
        raise Rejected("header only: WAV has no data chunk")


def _check_ogg(path: Path, size: int) -> None:
    """Walk the Ogg pages: the stream must end exactly on a page with the EOS flag."""
    with open(path, "rb") as fh:
        pos, last_flags = 0, None
        while pos < size:
            fh.seek(pos)
            header = fh.read(27)
            if len(header) < 27 or header[:4] != b"OggS":
                raise Rejected(f"truncated: Ogg page header broken at byte {pos} of {size}")
            nseg = header[26]
            lacing = fh.read(nseg)
            if len(lacing) < nseg:
                raise Rejected(f"truncated: Ogg segment table cut at byte {pos}")
            page_end = pos + 27 + nseg + sum(lacing)
            if page_end > size:
                raise Rejected(f"truncated: last Ogg page needs {page_end} bytes, file holds {size}")
            last_flags, pos = header[5], page_end
        if last_flags is None or not last_flags & 0x04:
            raise Rejected("truncated: Ogg stream has no end-of-stream page")


def check_container(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise Rejected("empty file (0 bytes)")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"RIFF":
        _check_riff(path, size)
    elif magic == b"OggS":
        _check_ogg(path, size)


def _decode_ffmpeg(path: Path, timeout_s: float, max_bytes: int) -> Decoded:
    """Fallback for formats libsndfile lacks (mp3 in older builds, m4a, ...)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-f", "f32le", "-acodec", "pcm_f32le", "-ar", "44100", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError as e:
        raise Rejected("not audio: format unknown to libsndfile and ffmpeg is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise Rejected(f"decoder timeout after {timeout_s} s") from e
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise Rejected(f"not audio: {msg[-1] if msg else 'ffmpeg could not decode it'}")
    if len(proc.stdout) > max_bytes:
        raise Rejected(f"too large: decodes to more than {max_bytes} bytes")
    if proc.stderr.strip():
        raise Rejected(f"corrupt: {proc.stderr.decode(errors='replace').strip().splitlines()[-1]}")
    return Decoded(np.frombuffer(proc.stdout, dtype=np.float32).copy(), 44100, 1)


def decode(path: Path, timeout_s: float = 120.0, max_file_bytes: int = 2_000_000_000) -> Decoded:
    """Decode to mono float32 or raise Rejected. Container checks run first."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise Rejected("not a regular file")
    if path.stat().st_size > max_file_bytes:
        raise Rejected(f"too large: {path.stat().st_size} bytes > {max_file_bytes}")
    check_container(path)
    try:
        info = sf.info(str(path))
    except Exception:
        return _decode_ffmpeg(path, timeout_s, max_file_bytes * 4)
    if info.frames <= 0:
        raise Rejected("header only: no audio frames")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise Rejected(f"corrupt: {e}") from e
    if len(data) < info.frames:
        raise Rejected(f"truncated: decoded {len(data)} of {info.frames} frames")
    return Decoded(data.mean(axis=1).astype(np.float32), sr, info.channels)


def check_signal(d: Decoded, min_duration_s: float, max_duration_s: float, silence_dbfs: float, max_clipped_fraction: float = 0.001) -> None:
    if d.duration_s < min_duration_s:
        raise Rejected(f"too short: {d.duration_s:.2f} s < {min_duration_s} s")
    if d.duration_s > max_duration_s:
        raise Rejected(f"too long: {d.duration_s:.0f} s > {max_duration_s} s")
    if not np.isfinite(d.samples).all():
        raise Rejected("corrupt: non-finite samples")
    rms = float(np.sqrt(np.mean(np.square(d.samples, dtype=np.float64))))
    if rms <= 10 ** (silence_dbfs / 20):
        raise Rejected(f"silent: RMS {20 * np.log10(max(rms, 1e-12)):.1f} dBFS <= {silence_dbfs} dBFS")
    clipped = clipped_fraction(d.samples)
    if clipped > max_clipped_fraction:
        raise Rejected(f"clipped: {100 * clipped:.2f} % of samples sit at full scale (> {100 * max_clipped_fraction:.2f} %)")


def clipped_fraction(x: np.ndarray, level: float = 0.999) -> float:
    """Fraction of samples in runs of >= 3 consecutive full-scale samples (a lone peak is not clipping)."""
    at = np.abs(x) >= level
    if not at.any():
        return 0.0
    run3 = at[:-2] & at[1:-1] & at[2:]
    return float(run3.sum()) / len(x)
