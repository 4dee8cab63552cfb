"""The block STFT (mir.stft) against madmom's own per-frame STFT: same bins, same features."""

from __future__ import annotations

import numpy as np
import pytest

madmom = pytest.importorskip("madmom")

from madmom.audio.signal import FramedSignal, Signal  # noqa: E402

from musicflamingo.mir import stft  # noqa: E402

SR = 44100


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(0)
    t = np.arange(int(6.2 * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    return Signal(x.astype(np.float32), sample_rate=SR, num_channels=1)


def _madmom_stft():
    import madmom.audio.stft as mstft

    return stft._original or mstft.stft


@pytest.mark.parametrize("frame_size,fft_size,nyquist", [(1024, None, False), (2048, None, True), (4096, 8192, False), (2048, 1024, False)])
def test_same_bins_as_madmom(signal, frame_size, fft_size, nyquist):
    frames = FramedSignal(signal, frame_size=frame_size, fps=100)
    window = np.hanning(frame_size)
    ref = _madmom_stft()(frames, window, fft_size=fft_size, include_nyquist=nyquist)
    got = stft.stft(frames, window, fft_size=fft_size, include_nyquist=nyquist)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    # madmom rounds a float64 FFT to complex64, so agreement is to complex64's precision
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6 * np.abs(ref).max())
    assert stft.BLOCK_FRAMES < len(frames)  # more than one block was stitched


def test_phase_cases_go_to_madmom(signal):
    frames = FramedSignal(signal, frame_size=1024, fps=100)
    window = np.hanning(1024)
    ref = _madmom_stft()(frames, window, circular_shift=True)
    np.testing.assert_array_equal(stft.stft(frames, window, circular_shift=True), ref)


def test_downbeat_features_unchanged(signal):
    """madmom's downbeat pre-processing (3 log-filtered spectrograms and their differences) with and without it."""
    import madmom.audio.stft as mstft
    from madmom.features.downbeats import RNNDownBeatProcessor

    pre = RNNDownBeatProcessor().processors[0]
    stft.install()
    fast = np.asarray(pre(signal))
    mstft.stft = stft._original
    try:
        ref = np.asarray(pre(signal))
    finally:
        stft.install()
    assert fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-5)


def test_rejects_non_2d():
    with pytest.raises(ValueError, match="2D"):
        stft.stft(np.zeros(10), None)
