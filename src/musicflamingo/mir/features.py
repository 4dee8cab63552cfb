"""Signal-level facts from one shared, chunked spectrogram: brightness,
onset density, the onset envelope (for the tempo fusion), vocal presence,
and form (sections) with per-section keys.

The STFT is computed in fixed-length chunks and reduced to a few numbers
(or 40 mel bands) per frame at once, so memory stays flat with track length.
"""

from __future__ import annotations

import numpy as np

FPS = 50  # frames per second of every curve here
N_FFT = 2048
N_MELS = 40
CHUNK_S = 60.0


def frame_features(audio: np.ndarray, sr: int) -> dict:
    """Per-frame spectral centroid (Hz), spectral-flux onset strength and log-mel bands, at `FPS`."""
    import librosa

    hop = int(round(sr / FPS))
    mel_fb = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS, fmin=60, fmax=8000)
    freqs = np.fft.rfftfreq(N_FFT, 1 / sr)
    window = np.hanning(N_FFT).astype(np.float32)
    chunk = int(CHUNK_S * sr) // hop * hop
    centroid, mels, rms = [], [], []
    for start in range(0, max(len(audio), 1), chunk):
        seg = audio[start : start + chunk + N_FFT]
        if len(seg) < N_FFT:
            seg = np.pad(seg, (0, N_FFT - len(seg)))
        n = 1 + (min(len(seg), chunk + N_FFT) - N_FFT) // hop
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::hop][:n] * window
        mag = np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32)
        power = mag**2
        total = power.sum(axis=1) + 1e-12
        centroid.append((power @ freqs) / total)
        mels.append(np.log10(power @ mel_fb.T + 1e-10).astype(np.float32))
        rms.append(np.sqrt(total / N_FFT))
    mel = np.concatenate(mels)
    flux = np.maximum(np.diff(mel, axis=0, prepend=mel[:1]), 0).sum(axis=1)
    return {"centroid": np.concatenate(centroid), "onset_env": flux, "mel": mel, "rms": np.concatenate(rms)}


def preload() -> None:
    """Import librosa's onset and filter modules once per process (about 1 CPU-s, lazily loaded by librosa)."""
    import librosa

    librosa.filters.mel(sr=22050, n_fft=N_FFT, n_mels=N_MELS)
    librosa.onset.onset_detect(onset_envelope=np.zeros(8), sr=FPS, hop_length=1)


def brightness_hz(ff: dict) -> float:
    """Mean spectral centroid over the frames that carry sound (RMS above -50 dB of the peak)."""
    loud = ff["rms"] > ff["rms"].max() * 10 ** (-50 / 20)
    return round(float(np.mean(ff["centroid"][loud])) if loud.any() else 0.0, 1)


def onset_times(ff: dict) -> np.ndarray:
    import librosa

    env = ff["onset_env"]
    idx = librosa.onset.onset_detect(onset_envelope=env, sr=FPS, hop_length=1, units="frames")
    return idx / FPS


def _bar_grid(downbeats: list[float], duration: float) -> np.ndarray:
    if len(downbeats) >= 4:
        return np.array([0.0, *[d for d in downbeats if d > 0.5], duration])
    return np.arange(0.0, duration, 2.0).tolist() + [duration]


def sections(ff: dict, chroma_c: np.ndarray | None, chroma_fps: float, downbeats: list[float], duration: float, cfg: dict) -> list[list]:
    """Form from a bar-level self-similarity matrix: Foote checkerboard novelty peaks are boundaries;
    segments are labelled A, B, ... by clustering their mean features (cosine similarity)."""
    grid = np.asarray(_bar_grid(downbeats, duration))
    feats = []
    mel = ff["mel"]
    for a, b in zip(grid[:-1], grid[1:]):
        m = mel[int(a * FPS) : max(int(b * FPS), int(a * FPS) + 1)]
        m = m.mean(axis=0) if len(m) else np.zeros(mel.shape[1])  # a last bar past the final frame (as NaN did)
        parts = [m - m.mean()]
        if chroma_c is not None and len(chroma_c):
            c = chroma_c[int(a * chroma_fps) : max(int(b * chroma_fps), int(a * chroma_fps) + 1)]
            c = c.mean(axis=0) if len(c) else np.zeros(12)
            parts.append(c / (np.linalg.norm(c) + 1e-9) * np.linalg.norm(parts[0]))
        feats.append(np.concatenate(parts))
    X = np.nan_to_num(np.array(feats))
    n = len(X)
    if n < 2 * int(cfg["min_bars"]):
        return [[0.0, round(duration, 3), "A"]]
    Xn = X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-9)
    ssm = Xn @ Xn.T
    half = int(cfg["kernel_bars"]) // 2
    g = np.outer(*(2 * [np.hanning(2 * half + 2)[1:-1]]))
    kernel = g * np.block([[np.ones((half, half)), -np.ones((half, half))], [-np.ones((half, half)), np.ones((half, half))]])
    padded = np.pad(ssm, half, mode="edge")
    nov = np.array([(padded[i : i + 2 * half, i : i + 2 * half] * kernel).sum() for i in range(n)])
    thr = nov.mean() + float(cfg["novelty_std"]) * nov.std()
    bounds = [0]
    for i in np.argsort(-nov):
        if nov[i] <= thr or i == 0:
            continue
        if all(abs(i - j) >= int(cfg["min_bars"]) for j in bounds) and n - i >= int(cfg["min_bars"]):
            bounds.append(int(i))
    bounds = sorted(bounds) + [n]
    labels, centroids = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        m = Xn[a:b].mean(axis=0)
        m /= np.linalg.norm(m) + 1e-9
        sims = [float(m @ c) for c in centroids]
        if sims and max(sims) >= float(cfg["same_label_similarity"]):
            labels.append(_label_name(int(np.argmax(sims))))
        else:
            centroids.append(m)
            labels.append(_label_name(len(centroids) - 1))
    return [[round(float(grid[a]), 3), round(float(grid[b]), 3), lab] for (a, b), lab in zip(zip(bounds[:-1], bounds[1:]), labels)]


def _label_name(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"S{i + 1}"


def section_keys(sections_: list[list], chroma_c: np.ndarray | None, chroma_fps: float, global_key: str, cfg: dict) -> list[list]:
    """Key per section (Aarden-Essen correlation of its chroma, with a bonus for staying in the global key);
    adjacent sections in the same key are merged, so every change is a modulation."""
    from musicflamingo.mir.fuse import chroma_key_scores
    from musicflamingo.mir.tools import index_key, key_index

    out: list[list] = []
    for s, e, _ in sections_:
        key = global_key
        if chroma_c is not None and len(chroma_c):
            c = chroma_c[int(s * chroma_fps) : int(e * chroma_fps)]
            if len(c) >= chroma_fps * float(cfg["min_section_s"]):
                score = chroma_key_scores(c.mean(axis=0))
                score[key_index(global_key)] += float(cfg["stay_bonus"])
                key = index_key(int(np.argmax(score)))
        if out and out[-1][2] == key:
            out[-1][1] = e
        else:
            out.append([s, e, key])
    return out
