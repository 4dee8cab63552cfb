"""madmom's STFT, computed a block of frames at a time instead of one frame at a time.

madmom (`madmom.audio.stft.stft`) loops over frames in Python and runs a complex FFT
(`scipy.fftpack.fft`) on each real frame: on a 100 s track its three downbeat
spectrograms are about 30,000 calls, and that loop was about 60 % of the downbeat
network's pre-processing (`benchmarks/mir_benchmark.py`, profile of `madmom_beats`).
`stft` below returns the same bins from one real FFT (`scipy.fft.rfft`) per block of
frames: the first half of a real signal's complex spectrum *is* its real FFT, so the
numbers agree to complex64 rounding (checked against madmom's own function in
tests/mir/test_stft.py) and every madmom feature built on it (downbeats, key CNN,
chord CNN, deep chroma) is unchanged.

`install()` swaps it in for madmom's module-level `stft` once per process; the cases it
does not vectorise (circular shift for phase, a pyFFTW plan) go to madmom's own code.
"""

from __future__ import annotations

import numpy as np

BLOCK_FRAMES = 512  # frames per FFT call: 512 x 4096 float32 = 8 MB, bounded memory on any track
_original = None


def stft(frames, window, fft_size=None, circular_shift=False, include_nyquist=False, fftw=None):
    """Drop-in for `madmom.audio.stft.stft`: (num_frames, frame_size) framed signal -> (num_frames, bins)
    complex64 STFT, bins = fft_size // 2 (+ 1 with `include_nyquist`). Raises ValueError on non-2-D frames."""
    if circular_shift or fftw is not None:
        import madmom.audio.stft as mstft

        return (_original or mstft.stft)(frames, window, fft_size=fft_size, circular_shift=circular_shift, include_nyquist=include_nyquist, fftw=fftw)
    import scipy.fft
    from madmom.audio.stft import STFT_DTYPE

    if frames.ndim != 2:
        raise ValueError(f"frames must be a 2D array or iterable, got {type(frames)} with shape {frames.shape}.")
    num_frames, frame_size = frames.shape
    fft_size = fft_size or frame_size
    num_bins = (fft_size >> 1) + (1 if include_nyquist else 0)
    data = np.empty((num_frames, num_bins), STFT_DTYPE)
    # In float32: the result is complex64 (madmom's STFT_DTYPE) either way, and a float64 FFT rounded to
    # complex64 costs twice the memory traffic for digits that are thrown away.
    window = None if window is None else np.asarray(window, np.float32)
    for a in range(0, num_frames, BLOCK_FRAMES):
        b = min(a + BLOCK_FRAMES, num_frames)
        block = np.stack([frames[f] for f in range(a, b)]).astype(np.float32, copy=False)  # FramedSignal pads edge frames
        if window is not None:
            block *= window
        data[a:b] = scipy.fft.rfft(block, fft_size, axis=1)[:, :num_bins]
    return data


def install() -> None:
    """Make madmom's spectrograms use `stft` in this process (idempotent)."""
    global _original
    import madmom.audio.stft as mstft

    if _original is None:
        _original = mstft.stft
    mstft.stft = stft
