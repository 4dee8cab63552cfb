"""The one audio loader: probe, bound, decode, and judge a file the way a listener would.

Every entry point that reads user audio goes through here: ingest
(`raw_audio`), `musicflamingo mir annotate`, the inbox sensor, training and
eval. Three rules come from real collections (see ../shared/STACK_NOTES.md):

1. **Probe before decoding.** Duration, rate, channels and sample format are
   read from the container and stream headers (libsndfile's header for
   WAV/FLAC/Ogg/AIFF, `ffprobe` for the rest), so a file that is too long or
   too large is rejected before a byte of it is decoded. Decoding itself is
   streamed and capped at `max_duration_s`, so memory stays bounded even when
   a header lies.
2. **Each format through a decoder that reads it correctly.** libsndfile for
   PCM containers and FLAC/Vorbis; ffmpeg for MP3 (libsndfile's frame count
   for an MP3 without a Xing/LAME header is only an estimate: a header-less
   VBR file read as 1.2 s of 6 s) and for AAC/ALAC/Opus/WMA. Truncation is
   judged from container evidence (RIFF chunk sizes, Ogg end-of-stream page,
   FLAC STREAMINFO's exact sample count) and decoder errors, never from an
   estimated frame count.
3. **Silence and clipping as heard.** Silent means no 100 ms window above
   the threshold in any channel, after removing each window's DC; clipped
   means runs of samples at *integer* full scale (float audio beyond ±1.0 is
   legal). Stereo channels in opposite polarity are music: if the mono mix
   cancels, the loudest channel is used instead.

Every rejection is a `Rejected(reason)`; callers turn it into a quarantine row.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The one list of accepted formats (suffix -> decoder). Everything else is not audio to us.
SNDFILE_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".au"})
FFMPEG_SUFFIXES = frozenset({".mp3", ".m4a", ".mp4", ".aac", ".opus", ".wma", ".webm", ".mka", ".amr", ".ac3", ".caf"})
AUDIO_SUFFIXES = SNDFILE_SUFFIXES | FFMPEG_SUFFIXES

SILENCE_WINDOW_S = 0.1
# Float samples this far above full scale are garbage, not loud audio (+60 dBFS).
MAX_FLOAT_AMPLITUDE = 1000.0
# Mono mix this much quieter than its channels means the channels cancel (opposite polarity).
CANCEL_RATIO = 0.1
# Hi-res input is kept at 48 kHz: every consumer resamples lower, and this bounds the decoded buffer
# by design to max_duration_s x 48 kHz x 4 bytes (345 MB for 30 min), whatever the file's rate.
MAX_KEPT_RATE = 48_000
_BLOCK_FRAMES = 1 << 16


class Rejected(Exception):
    """The file is not usable audio; `str(exc)` is the quarantine reason (one line)."""


@dataclass(frozen=True)
class Limits:
    """Bounds applied before and during decoding.

    max_duration_s: longest accepted audio (s); the decoder stops one block past it.
    max_file_bytes: largest accepted file on disk (bytes), checked before any read.
    timeout_s: wall-clock bound on probing and on decoding (s), each.
    """

    max_duration_s: float = 1800.0
    max_file_bytes: int = 2_000_000_000
    timeout_s: float = 120.0

    @classmethod
    def from_config(cls, section) -> "Limits":
        """From a config section with `max_duration_s`, `max_file_bytes`, `decode_timeout_s` (`data`, `mir.validate`);
        absent keys keep the defaults."""
        section = section or {}
        get = section.get
        return cls(float(get("max_duration_s", cls.max_duration_s)), int(get("max_file_bytes", cls.max_file_bytes)),
                   float(get("decode_timeout_s", cls.timeout_s)))


@dataclass(frozen=True)
class Probe:
    """What the headers say. `duration_s` is exact for WAV/FLAC/AIFF and an estimate for MP3/AAC."""

    path: str
    size_bytes: int
    decoder: str  # "sndfile" | "ffmpeg"
    codec: str  # e.g. "PCM_16", "FLAC", "VORBIS", "mp3", "aac"
    sample_rate: int
    channels: int
    duration_s: float | None
    frames: int | None  # exact frame count where the container states it (WAV/FLAC/AIFF), else None
    integer_bits: int | None  # bit depth of integer PCM / lossless; None for float or lossy codecs
    container: str = ""  # e.g. "WAV", "FLAC", "OGG" (libsndfile) or ffprobe's format name ("mp3", "mov,mp4,m4a,...")


@dataclass
class Decoded:
    """Mono float32 samples (shape (frames,)) at `sample_rate` Hz, plus what the listener-checks found."""

    samples: np.ndarray
    sample_rate: int
    channels: int
    probe: Probe
    loudest_window_dbfs: float = -np.inf  # max over channels and 100 ms windows, DC removed
    clipped_fraction: float | None = None  # None where full scale is not defined (lossy codecs)
    peak: float = 0.0  # max |x| over all channels
    downmix: str = "mean"  # or "channel N (channels cancel in the mean)"
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


# -- probing --------------------------------------------------------------------------------------


def _check_riff(fh, size: int) -> None:
    fh.seek(0)
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


def _check_ogg(fh, size: int) -> None:
    """Walk the Ogg pages: the stream must end exactly on a page with the EOS flag."""
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
    """Container-level truncation evidence (RIFF sizes, Ogg pages). Raises Rejected."""
    size = path.stat().st_size
    if size == 0:
        raise Rejected("empty file (0 bytes)")
    with open(path, "rb") as fh:
        magic = fh.read(4)
        if magic == b"RIFF":
            _check_riff(fh, size)
        elif magic == b"OggS":
            _check_ogg(fh, size)


_SNDFILE_INT_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}


def _probe_sndfile(path: Path, size: int, timeout_s: float) -> Probe:
    import soundfile as sf

    try:
        info = sf.info(os.fsencode(path))  # bytes: names that are not valid UTF-8 open too
    except Exception as e:  # libsndfile's own message names the problem
        raise Rejected(f"not audio: {str(e).splitlines()[-1][:200]}") from e
    if info.frames <= 0:
        raise Rejected("header only: no audio frames")
    if info.frames >= 2**62:  # SF_COUNT_MAX: FLAC STREAMINFO states no length; libsndfile then fails to seek in it
        return _probe_ffmpeg(path, size, timeout_s)
    bits = _SNDFILE_INT_BITS.get(info.subtype)
    if info.format == "FLAC":
        bits = {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}.get(info.subtype, 16)
    return Probe(str(path), size, "sndfile", info.subtype, int(info.samplerate), int(info.channels), info.frames / info.samplerate, int(info.frames), bits, info.format)


def _run(cmd: list[str], timeout_s: float, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError as e:
        raise Rejected(f"not audio: {what} needs {cmd[0]}, which is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise Rejected(f"{what} timeout after {timeout_s:.0f} s") from e


def _ffmpeg_url(path: str | Path) -> str:
    # "file:" + an absolute path: a name with ':' or a leading '-' is never read as a protocol or an option.
    return "file:" + os.path.abspath(path)


def _probe_ffmpeg(path: Path, size: int, timeout_s: float) -> Probe:
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-select_streams", "a:0", _ffmpeg_url(path)]
    proc = _run(cmd, timeout_s, "probe")
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise Rejected(f"not audio: {msg[-1][:200] if msg else 'ffprobe could not read it'}")
    meta = json.loads(proc.stdout or b"{}")
    streams = meta.get("streams") or []
    if not streams:
        raise Rejected("not audio: no audio stream")
    s = streams[0]
    rate, channels = int(s.get("sample_rate") or 0), int(s.get("channels") or 0)
    if rate <= 0 or channels <= 0:
        raise Rejected(f"not audio: stream declares {rate} Hz, {channels} channels")
    dur = s.get("duration") or (meta.get("format") or {}).get("duration")
    codec = s.get("codec_name", "?")
    bits = int(s.get("bits_per_raw_sample") or 0) or None
    lossless_int = codec in {"alac", "flac"} or codec.startswith("pcm_s") or codec.startswith("pcm_u")
    return Probe(str(path), size, "ffmpeg", codec, rate, channels, float(dur) if dur else None, None, bits if lossless_int else None, (meta.get("format") or {}).get("format_name", ""))


def probe(path: str | Path, limits: Limits = Limits()) -> Probe:
    """Read the headers of `path` and apply the size and duration bounds. Raises Rejected.

    Order matters for hostile inputs: file type and size are checked from the
    directory entry, then container evidence, then headers; nothing is decoded.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise Rejected("broken symlink")
    if not path.exists():
        raise Rejected("no such file")
    if path.is_dir():
        raise Rejected("is a directory")
    if not path.is_file():
        raise Rejected("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise Rejected("empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise Rejected(f"too large: {size} bytes > {limits.max_file_bytes}")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise Rejected(f"unsupported format {suffix or '(no suffix)'!r}: accepted are {', '.join(sorted(AUDIO_SUFFIXES))}")
    check_container(path)
    if suffix in SNDFILE_SUFFIXES:
        try:
            p = _probe_sndfile(path, size, limits.timeout_s)
        except Rejected as first:
            # libsndfile lacks some legal variants (FLAC at 12 or 20 bits, WAV with exotic codecs): ffmpeg may read them
            try:
                p = _probe_ffmpeg(path, size, limits.timeout_s)
            except Rejected:
                raise first from None
    else:
        p = _probe_ffmpeg(path, size, limits.timeout_s)
    if p.duration_s is not None and p.duration_s > limits.max_duration_s:
        raise Rejected(f"too long: {p.duration_s:.0f} s > {limits.max_duration_s:.0f} s")
    return p


# -- decoding -------------------------------------------------------------------------------------


class _Accumulator:
    """Streams blocks of (frames, channels) float32 into a capped mono buffer and listener stats."""

    def __init__(self, p: Probe, cap_frames: int):
        import soxr

        self.p, self.cap = p, cap_frames
        self.rate = min(p.sample_rate, MAX_KEPT_RATE)
        self._down = soxr.ResampleStream(p.sample_rate, self.rate, 1, dtype="float32") if self.rate != p.sample_rate else None
        expected = int((p.frames or p.sample_rate * 60) * self.rate / p.sample_rate) + 1
        self.mono = np.empty(min(cap_frames, expected), dtype=np.float32)
        self.n = 0
        self.win = max(1, int(round(SILENCE_WINDOW_S * p.sample_rate)))
        self._carry = np.empty((0, p.channels), dtype=np.float32)
        self.loudest_ms = 0.0  # mean square of the loudest DC-removed window
        self.peak = 0.0
        self.nonfinite = False
        self.clipped = 0
        self._run = np.zeros(p.channels, dtype=np.int64)  # current run of full-scale samples per channel
        self.ch_energy = np.zeros(p.channels)
        self.mono_energy = 0.0
        # Clipping is judged where full scale exists: integer PCM (its largest codes) and float PCM
        # flat-topped at exactly ±1.0. Float samples *beyond* ±1.0 are legal headroom, not clipping.
        self.judge_clipping = bool(p.integer_bits) or p.codec in ("FLOAT", "DOUBLE")
        if p.integer_bits:
            self.full_pos = np.float32((2 ** (p.integer_bits - 1) - 1) / 2 ** (p.integer_bits - 1))
        self.too_long = False
        self.frames_in = 0  # frames read from the stream, at the file's own rate

    def add(self, block: np.ndarray) -> bool:
        """Add one block; False once the cap is passed (the caller stops decoding)."""
        if not np.isfinite(block).all():
            self.nonfinite = True
            return False
        self.frames_in += len(block)
        self.peak = max(self.peak, float(np.abs(block).max(initial=0.0)))
        self.ch_energy += np.square(block, dtype=np.float64).sum(axis=0)
        if self.judge_clipping:
            self._count_clipping(block)
        # Listener's silence test: the loudest 100 ms window of any channel, each window's DC removed.
        x = np.concatenate([self._carry, block]) if len(self._carry) else block
        whole = len(x) // self.win * self.win
        if whole:
            w = x[:whole].reshape(-1, self.win, x.shape[1]).astype(np.float64)
            w -= w.mean(axis=1, keepdims=True)
            self.loudest_ms = max(self.loudest_ms, float(np.square(w).mean(axis=1).max()))
        self._carry = x[whole:].copy()
        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        self.mono_energy += float(np.square(mono, dtype=np.float64).sum())
        if self._down is not None:
            mono = self._down.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32))
        return self.add_mono(mono)

    def add_mono(self, mono: np.ndarray) -> bool:
        room = self.cap - self.n
        if len(mono) > room:
            self.too_long = True
            mono = mono[:room]
        if self.n + len(mono) > len(self.mono):
            grown = np.empty(min(self.cap, max(2 * len(self.mono), self.n + len(mono))), dtype=np.float32)
            grown[: self.n] = self.mono[: self.n]
            self.mono = grown
        self.mono[self.n : self.n + len(mono)] = mono
        self.n += len(mono)
        return not self.too_long

    def flush(self) -> None:
        """Emit the resampler's tail (a streamed resampler holds back its filter delay)."""
        if self._down is not None and not self.too_long:
            tail = self._down.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._down = None
            self.add_mono(tail)

    def _count_clipping(self, block: np.ndarray) -> None:
        """Samples in runs of >= 3 at integer full scale (a lone peak is not clipping); runs carry across blocks."""
        if self.p.integer_bits:
            at = (block >= self.full_pos) | (block <= -1.0)
        else:
            at = np.abs(block) == 1.0
        for c in range(block.shape[1]):
            col = at[:, c]
            carry = int(self._run[c])
            if not col.any():
                self._close_run(c)
                continue
            edges = np.flatnonzero(np.diff(np.concatenate([[0], col.view(np.int8), [0]])))
            starts, ends = edges[::2], edges[1::2]
            runs = ends - starts
            if starts[0] == 0:
                runs[0] += carry
            else:
                self._close_run(c)
            open_end = ends[-1] == len(col)
            closed = runs[:-1] if open_end else runs
            self.clipped += int(closed[closed >= 3].sum())
            self._run[c] = runs[-1] if open_end else 0

    def _close_run(self, c: int) -> None:
        if self._run[c] >= 3:
            self.clipped += int(self._run[c])
        self._run[c] = 0

    def finish(self) -> None:
        for c in range(len(self._run)):
            self._close_run(c)


def _blocks_sndfile(p: Probe, start_s: float):
    import soundfile as sf

    with sf.SoundFile(os.fsencode(p.path)) as f:
        if start_s:
            f.seek(min(int(start_s * p.sample_rate), max(p.frames - 1, 0)))
        while True:
            try:
                block = f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except Exception as e:  # a decoder error inside the stream
                raise Rejected(f"corrupt: {str(e).splitlines()[-1][:200]}") from e
            if not len(block):
                return
            yield block


def _blocks_ffmpeg(p: Probe, start_s: float, timeout_s: float):
    cmd = ["ffmpeg", "-v", "error", "-nostdin"]
    if start_s:
        cmd += ["-ss", f"{start_s:.3f}"]
    cmd += ["-i", _ffmpeg_url(p.path), "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(p.channels), "-ar", str(p.sample_rate), "-"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise Rejected("not audio: decoding it needs ffmpeg, which is not installed") from e
    timer = threading.Timer(timeout_s, proc.kill)  # bounds the whole decode, not each read
    timer.start()
    t0 = time.monotonic()
    stride = 4 * p.channels
    try:
        pending = b""
        while chunk := proc.stdout.read(_BLOCK_FRAMES * stride):
            chunk = pending + chunk
            usable = len(chunk) // stride * stride
            pending = chunk[usable:]
            if usable:
                yield np.frombuffer(chunk[:usable], dtype=np.float32).reshape(-1, p.channels)
    finally:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.wait()
        timer.cancel()
    if time.monotonic() - t0 >= timeout_s:
        raise Rejected(f"decoder timeout after {timeout_s:.0f} s")
    if err:
        raise Rejected(f"corrupt: ffmpeg: {err.splitlines()[-1][:200]}")


def decode(path: str | Path, limits: Limits = Limits(), start_s: float = 0.0, duration_s: float | None = None) -> Decoded:
    """Probe, then decode to mono float32 at the file's own rate, streaming and capped. Raises Rejected.

    `start_s`/`duration_s` read one window only (training and eval read the
    first `max_audio_s`). Without `duration_s` the whole file is read, up to
    `limits.max_duration_s`; a file that decodes past it is "too long" even
    if its header claimed less. Peak memory: one float32 mono buffer of the
    decoded length plus one 64k-frame block.
    """
    p = probe(path, limits)
    want_s = limits.max_duration_s if duration_s is None else min(duration_s, limits.max_duration_s)
    cap = int(want_s * min(p.sample_rate, MAX_KEPT_RATE)) + (1 if duration_s is None else 0)
    acc = _Accumulator(p, cap)
    blocks = _blocks_sndfile(p, start_s) if p.decoder == "sndfile" else _blocks_ffmpeg(p, start_s, limits.timeout_s)
    t0 = time.monotonic()
    for block in blocks:
        if not acc.add(block):
            break
        if time.monotonic() - t0 > limits.timeout_s:
            raise Rejected(f"decoder timeout after {limits.timeout_s:.0f} s")
    blocks.close()  # stops ffmpeg early once the cap is reached
    acc.flush()
    if acc.nonfinite:
        raise Rejected("corrupt: non-finite samples (NaN or Inf)")
    if acc.peak > MAX_FLOAT_AMPLITUDE:
        raise Rejected(f"corrupt: float samples reach {acc.peak:.3g} (beyond ±{MAX_FLOAT_AMPLITUDE:g}, +60 dBFS)")
    if duration_s is None and acc.too_long:
        raise Rejected(f"too long: decodes past {limits.max_duration_s:.0f} s")
    if acc.n == 0:
        raise Rejected("header only: no audio frames decoded")
    if duration_s is None and not start_s and p.container == "FLAC" and p.frames and acc.frames_in < p.frames:
        raise Rejected(f"truncated: FLAC STREAMINFO states {p.frames} frames, the stream holds {acc.frames_in}")
    samples = acc.mono[: acc.n]
    d = Decoded(samples, acc.rate, p.channels, p, peak=acc.peak)
    d.loudest_window_dbfs = 10 * float(np.log10(acc.loudest_ms)) if acc.loudest_ms > 0 else -np.inf
    if acc.judge_clipping:
        acc.finish()
        d.clipped_fraction = acc.clipped / max(acc.n * p.channels, 1)
    if p.channels > 1 and acc.mono_energy < CANCEL_RATIO**2 * acc.ch_energy.mean():
        d.samples = resample(_one_channel(p, int(np.argmax(acc.ch_energy)), start_s, acc.frames_in, limits), p.sample_rate, acc.rate)
        d.downmix = f"channel {int(np.argmax(acc.ch_energy))} (channels cancel in the mean)"
    return d


def _one_channel(p: Probe, channel: int, start_s: float, n: int, limits: Limits) -> np.ndarray:
    out = np.empty(n, dtype=np.float32)
    k = 0
    blocks = _blocks_sndfile(p, start_s) if p.decoder == "sndfile" else _blocks_ffmpeg(p, start_s, limits.timeout_s)
    for block in blocks:
        take = min(len(block), n - k)
        out[k : k + take] = block[:take, channel]
        k += take
        if k >= n:
            break
    blocks.close()
    return out[:k]


def check_signal(d: Decoded, min_duration_s: float, max_duration_s: float, silence_dbfs: float, max_clipped_fraction: float = 0.001) -> None:
    """Listener-level checks on a decoded file. Raises Rejected("too short" | "too long" | "silent" | "clipped")."""
    if d.duration_s < min_duration_s:
        raise Rejected(f"too short: {d.duration_s:.2f} s < {min_duration_s} s")
    if d.duration_s > max_duration_s:
        raise Rejected(f"too long: {d.duration_s:.0f} s > {max_duration_s} s")
    if d.loudest_window_dbfs <= silence_dbfs:
        raise Rejected(f"silent: no 100 ms window above {silence_dbfs} dBFS in any channel (loudest {max(d.loudest_window_dbfs, -240.0):.1f} dBFS)")
    if d.clipped_fraction is not None and d.clipped_fraction > max_clipped_fraction:
        raise Rejected(
            f"clipped: {100 * d.clipped_fraction:.2f} % of samples sit in runs at integer full scale (> {100 * max_clipped_fraction:.2f} %)"
        )


def load_mono(path: str | Path, sample_rate: int, start_s: float = 0.0, duration_s: float | None = None, limits: Limits = Limits()) -> np.ndarray:
    """Mono float32 samples of `path` at `sample_rate` Hz, shape (frames,). Raises Rejected.

    The single reader for training, eval and the MIR tools: the same
    decoders and bounds as ingest, resampled with soxr (high quality).
    """
    d = decode(path, limits, start_s=start_s, duration_s=duration_s)
    return resample(d.samples, d.sample_rate, sample_rate)


def window_bounds(duration_s: float, window_s: float, min_tail_s: float = 1.0) -> list[tuple[float, float]]:
    """[start_s, end_s) windows of `window_s` covering a track; a tail shorter than `min_tail_s` joins the
    window before it, so no window is empty (a 30.01 s track is one 30.01 s window, not 30 s + 10 ms)."""
    n = max(1, int(duration_s // window_s))
    if duration_s - n * window_s >= min_tail_s:
        n += 1
    return [(i * window_s, min((i + 1) * window_s, duration_s) if i < n - 1 else duration_s) for i in range(n)]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """soxr (libsoxr, 'HQ') resampling of a mono float32 signal; a no-op copy-free view when rates match."""
    import soxr

    if sr_in == sr_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    return np.ascontiguousarray(soxr.resample(x, sr_in, sr_out).astype(np.float32, copy=False))
