"""A hostile ingest corpus: the inputs real collections and audio-tool bug reports bring.

Each `Case` writes one small input (or a symlink, a folder, a name that is
not UTF-8) and states the one outcome a listener would expect:
`"track"`, `"duplicate"`, or a quarantine reason prefix. Used by
`tests/audio/test_hostile_inputs.py` (one test per case) and by
`benchmarks/ingest_benchmark.py` (all cases, outcome accounting, peak RSS).
The generators use ffmpeg (lavfi sources, libmp3lame, aac, wmav2, libopus)
and soundfile; nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

SR = 22050
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF"}


@dataclass(frozen=True)
class Case:
    name: str  # file name inside the corpus folder (bytes-safe ASCII; see `nonutf8`)
    expect: str  # "track" | "duplicate" | a quarantine reason prefix ("silent", "truncated", ...)
    make: Callable[[Path], None]  # writes the input at the given path
    doc: str
    big: bool = False  # large on disk or slow: benchmark only


def _tone(seconds: float, sr: int = SR, channels: int = 1, amp: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))  # a little movement
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def _sf(data: np.ndarray, sr: int = SR, subtype: str = "PCM_16", fmt: str | None = None):
    import soundfile as sf

    def write(path: Path) -> None:
        sf.write(os.fsencode(path), data, sr, subtype=subtype, format=fmt or _FORMATS[path.suffix.lower()])

    return write


def _ffmpeg(src: str, *args: str, seconds: float = 6.0):
    """Encode a lavfi source (`sine`, `anoisesrc`, ...) with ffmpeg."""

    def write(path: Path) -> None:
        cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", f"{src}:duration={seconds}", *args, str(path)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    return write


def _bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def _cut(make, fraction: float):
    def write(path: Path) -> None:
        make(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return write


def _quiet_intro(path: Path) -> None:
    # A real rock intro sat at -67 dBFS RMS with -39 dBFS peaks: sparse soft notes in near silence.
    x = np.zeros(int(3.3 * SR), dtype=np.float32)
    for start in (0.2, 1.1, 2.0, 2.9):
        n = int(0.12 * SR)
        i = int(start * SR)
        x[i : i + n] += (0.011 * np.sin(2 * np.pi * 330 * np.arange(n) / SR) * np.hanning(n)).astype(np.float32)
    _sf(x[:, None])(path)


def _inverted_stereo(path: Path) -> None:
    x = _tone(3.0)
    _sf(np.concatenate([x, -x], axis=1))(path)


def _float_spikes(value: float):
    def write(path: Path) -> None:
        x = _tone(3.0)
        x[::5000] = value
        _sf(x, subtype="FLOAT")(path)

    return write


def _clipped_int(path: Path) -> None:
    x = np.clip(3 * _tone(3.0, amp=1.0), -1, 1)
    _sf(x, subtype="PCM_16")(path)


def _wav_header_only(path: Path) -> None:
    _sf(_tone(1.0))(path)
    path.write_bytes(path.read_bytes()[:44])


def _long_sparse_wav(seconds: float, sr: int = 8000):
    """An 8-bit 8 kHz WAV whose header states `seconds` of audio (large on disk only for long ones)."""

    def write(path: Path) -> None:
        import soundfile as sf

        with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_U8", format="WAV") as f:
            block = _tone(60.0, sr)[:, 0]
            for _ in range(int(seconds // 60)):
                f.write(block)

    return write


def _flac_without_length(path: Path) -> None:
    """A FLAC whose STREAMINFO leaves the total sample count at 0 ('unknown', as encoders writing to a pipe do)."""
    _sf(_tone(3.0, freq=659.0))(path)
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # first metadata block is STREAMINFO
    data[21] &= 0xF0  # the 36-bit total-samples field: low nibble of byte 21 and bytes 22-25
    data[22:26] = b"\0\0\0\0"
    path.write_bytes(bytes(data))


def _symlink_to(target: str):
    return lambda path: os.symlink(target, path)


def _linked_folder(path: Path) -> None:
    real = path.parent.parent / f"{path.parent.name}.linked-target"  # outside the corpus folder
    real.mkdir(exist_ok=True)
    _sf(_tone(2.0, freq=523.0))(real / "in_linked_folder.wav")
    os.symlink(os.path.relpath(real, path.parent), path)  # relative link: the corpus can move
    os.symlink(".", real / "loop")  # a loop: must not be walked forever


def cases() -> list[Case]:
    """The corpus, in a fixed order. Names are unique; `big` cases are benchmark-only."""
    tone16 = _sf(_tone(3.0))
    return [
        Case("good_pcm16.wav", "track", tone16, "16-bit PCM WAV, 3 s"),
        Case("good_pcm16_copy.wav", "duplicate", tone16, "byte-identical copy of good_pcm16.wav under another name"),
        Case("good_pcm24.wav", "track", _sf(_tone(3.0, freq=247.0), subtype="PCM_24"), "24-bit PCM WAV"),
        Case("good_u8.wav", "track", _sf(_tone(3.0, freq=262.0), subtype="PCM_U8"), "8-bit unsigned WAV"),
        Case("good_float.wav", "track", _sf(_tone(3.0, freq=277.0), subtype="FLOAT"), "32-bit float WAV"),
        Case("float_plus6db.wav", "track", _sf(_tone(3.0, amp=2.0, freq=294.0), subtype="FLOAT"), "float WAV peaking at +6 dBFS: headroom, not clipping"),
        Case("good.flac", "track", _sf(_tone(3.0, freq=311.0), subtype="PCM_16"), "FLAC"),
        Case("good.ogg", "track", _sf(_tone(3.0, freq=330.0), subtype="VORBIS", fmt="OGG"), "Ogg Vorbis"),
        Case("good.aiff", "track", _sf(_tone(3.0, freq=349.0), subtype="PCM_16", fmt="AIFF"), "AIFF"),
        Case("six_channels.wav", "track", _sf(_tone(3.0, channels=6, freq=370.0)), "5.1 WAV (6 channels)"),
        Case("speech_8k.wav", "track", _sf(_tone(3.0, sr=8000, freq=392.0), sr=8000), "8 kHz mono"),
        Case("mp3_cbr.mp3", "track", _ffmpeg("sine=frequency=440", "-c:a", "libmp3lame", "-b:a", "128k"), "CBR MP3 with a Xing/LAME header"),
        Case("mp3_cbr_noxing.mp3", "track", _ffmpeg("sine=frequency=466", "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0"),
             "CBR MP3 without Xing/LAME header: libsndfile's frame count is only an estimate (was quarantined as truncated)"),
        Case("mp3_vbr_noxing.mp3", "track", _ffmpeg("sine=frequency=494", "-c:a", "libmp3lame", "-q:a", "5", "-write_xing", "0"),
             "VBR MP3 without Xing header (was read as 1.2 s of 6 s)"),
        Case("mp3_id3.mp3", "track", _ffmpeg("sine=frequency=523", "-c:a", "libmp3lame", "-q:a", "4", "-metadata", "title=Café", "-id3v2_version", "3"), "MP3 with an ID3v2 tag"),
        Case("good.m4a", "track", _ffmpeg("sine=frequency=554", "-c:a", "aac", "-b:a", "96k"), "AAC in MP4 (.m4a)"),
        Case("good.aac", "track", _ffmpeg("sine=frequency=587", "-c:a", "aac", "-b:a", "96k", "-f", "adts"), "raw ADTS AAC (.aac; was ignored silently)"),
        Case("good.mp4", "track", _ffmpeg("sine=frequency=622", "-c:a", "aac", "-b:a", "96k", "-f", "mp4"), "audio-only .mp4 (was ignored silently)"),
        Case("good.wma", "track", _ffmpeg("sine=frequency=659", "-c:a", "wmav2", "-b:a", "96k"), "WMA (was ignored silently)"),
        Case("good.opus", "track", _ffmpeg("sine=frequency=698", "-c:a", "libopus", "-b:a", "64k"), "Opus in Ogg"),
        Case("quiet_intro.wav", "track", _quiet_intro, "3.3 s of sparse notes at about -67 dBFS RMS, -39 dBFS peak (was called silent)"),
        Case("inverted_stereo.wav", "track", _inverted_stereo, "stereo whose channels are in opposite polarity: the mono mix cancels"),
        Case("flac_no_length.flac", "track", _flac_without_length, "FLAC with no total sample count in STREAMINFO (read as 192 trillion seconds: 'too long')"),
        Case("very_quiet_-65db.wav", "track", _sf(_tone(3.0, amp=0.0008, freq=415.0)), "a quiet stem: loudest window about -65 dBFS (real Carnatic stems sit there)"),
        Case("pink_noise.flac", "track", _ffmpeg("anoisesrc=color=pink:amplitude=0.2", "-c:a", "flac"), "noise is sound, not silence"),
        Case("digital_silence.wav", "silent", _sf(np.zeros((3 * SR, 1), np.float32)), "all zeros"),
        Case("dc_offset.wav", "silent", _sf(np.full((3 * SR, 2), 0.25, np.float32)), "a constant DC offset only: no sound after removing DC"),
        Case("hiss_-80db.wav", "silent", _sf((1e-4 * np.random.default_rng(0).standard_normal((3 * SR, 1))).astype(np.float32)), "noise at -80 dBFS"),
        Case("clipped_int16.wav", "clipped", _clipped_int, "16-bit PCM hard-clipped at full scale for long runs"),
        Case("nan_samples.wav", "corrupt", _float_spikes(np.nan), "float WAV with NaN samples"),
        Case("inf_samples.wav", "corrupt", _float_spikes(np.inf), "float WAV with +Inf samples"),
        Case("spikes_1e30.wav", "corrupt", _float_spikes(1e30), "float WAV with finite 1e30 spikes (put Infinity into tracks.jsonl)"),
        Case("empty.wav", "empty", _bytes(b""), "0 bytes"),
        Case("header_only.wav", ("header only", "truncated"), _wav_header_only, "a 44-byte WAV header, no data"),  # type: ignore[arg-type]
        Case("truncated.wav", "truncated", _cut(tone16, 0.5), "WAV cut in half"),
        Case("truncated.ogg", "truncated", _cut(_sf(_tone(4.0), subtype="VORBIS", fmt="OGG"), 0.6), "Ogg cut mid-stream (libsndfile reads it without complaint)"),
        Case("truncated.flac", ("truncated", "corrupt"), _cut(_sf(_tone(4.0, freq=740.0)), 0.6), "FLAC cut mid-stream"),  # type: ignore[arg-type]
        Case("text.wav", "not audio", _bytes(b"this is not audio\n" * 50), "text with a .wav name"),
        Case("random.mp3", "not audio", _bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()), "random bytes with an .mp3 name"),
        Case("notes.txt", "unsupported format", _bytes(b"liner notes\n"), "a text file in the music folder"),
        Case("no_suffix", "unsupported format", _sf(_tone(3.0, freq=208.0), fmt="WAV"), "audio without a file suffix: outside the accepted list, said so"),
        Case("too_short.wav", "too short", _sf(_tone(0.4)), "0.4 s"),
        Case("broken_link.wav", "broken symlink", _symlink_to("does_not_exist.wav"), "a symlink whose target is gone"),
        Case("linked_folder", "track", _linked_folder, "a symlinked folder holding one good file, with a symlink loop inside"),
        Case(
            "caf\udce9.wav", "track", _sf(_tone(3.0, freq=784.0)),
            "a good file whose name is not valid UTF-8 (Latin-1 'é'); aborted the whole run before",
        ),
        Case("hour_of_silence.m4a", "too long", _ffmpeg("anullsrc=r=8000:cl=mono", "-c:a", "aac", "-b:a", "16k", seconds=3600.0),
             "1 h of silence in 1.3 MB of AAC: must be rejected from its header, before decoding (peaked at 1.3 GB RSS)", big=True),
        Case("hires_192k_10min.flac", "track", _ffmpeg("sine=frequency=440:sample_rate=192000", "-c:a", "flac", seconds=600.0),
             "10 min at 192 kHz: kept at 48 kHz while decoding, so the buffer stays small", big=True),
        Case("long_19min_stereo.flac", "track", _ffmpeg("sine=frequency=330", "-ac", "2", "-c:a", "flac", seconds=1140.0),
             "a 19-minute stereo track: the longest the default ingest accepts", big=True),
        Case("long_u8_8k.wav", "too long", _long_sparse_wav(12_480.0), "100 MB 8-bit 8 kHz WAV of 12,480 s (peaked at 1.1 GB before 'too long')", big=True),
    ]


def build(folder: Path, include_big: bool = False) -> list[Case]:
    """Write every case into `folder` (created); return the cases written, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [c for c in cases() if include_big or not c.big]
    for c in chosen:
        c.make(folder / c.name)
    return chosen


def outcome_for(case: Case, outcomes: dict[str, str]) -> str | None:
    """The outcome recorded for `case` in {display path: outcome}; a folder case matches the file inside it."""
    for display, outcome in outcomes.items():
        name = os.fsencode(case.name).decode("utf-8", "backslashreplace")
        if display == name or display.endswith("/" + name) or f"/{name}/" in f"/{display}":
            return outcome
    return None


def matches(case: Case, outcome: str) -> bool:
    """Does an outcome ("track", "duplicate of …", or a quarantine reason) match what the case expects?"""
    expected = case.expect if isinstance(case.expect, tuple) else (case.expect,)
    if "duplicate" in expected:
        return outcome.startswith("duplicate of")
    return any(outcome.startswith(e) for e in expected)
