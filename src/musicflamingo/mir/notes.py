"""Harmony evidence from notes: basic-pitch transcription -> pitch-class profile, note chroma, key and chords.

Tool: basic-pitch 0.4.0 (Bittner et al., "A Lightweight Instrument-Agnostic Model for Polyphonic Note
Transcription and Multipitch Estimation", ICASSP 2022; Spotify, Apache-2.0). Its ONNX model ships in
the wheel (`saved_models/icassp_2022/nmp.onnx`); it runs on onnxruntime, no TensorFlow. The model file's
sha256 is pinned here and checked before it is loaded (a different file is an error, never a silent
swap). The package is installed with `--no-deps` (its declared pins force TensorFlow < 2.15.1); at
import it needs librosa, resampy, pretty_midi (+ mido, importlib_resources), scikit-learn, scipy.

What the fusion gets (`evidence`):
- `pitch_class_profile`: 12 values (C first), the notes' duration x amplitude summed per pitch class,
  normalised to sum 1: key evidence that does not depend on a chroma front end (mir.fuse.key);
- `chords`: beat-synchronous major/minor triads matched to the model's frame posteriorgram folded to
  12 pitch classes (binary-template cosine, Fujishima 1999), `N` where no note sounds: a chord tool
  voted with the others (mir.fuse.chords);
- `key`: the profile's best Aarden-Essen key (the tool's own answer, scored per tool in the benchmarks).

Cost: about 0.03-0.1 CPU-s per audio-second on one core; frames are 86 per second.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

VERSION = "0.4.0"
MODEL_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"  # basic-pitch 0.4.0 nmp.onnx
SAMPLE_RATE = 22050  # basic_pitch.constants.AUDIO_SAMPLE_RATE
MIDI_LOW = 21        # the posteriorgram's first bin is A0 (88 piano keys)
TOOL = f"basic-pitch {VERSION} (nmp.onnx, onnxruntime)"
_MAJ, _MIN = (0, 4, 7), (0, 3, 7)


def model_path() -> Path:
    """The ONNX model inside the installed wheel, after checking its sha256. Raises RuntimeError when the
    package is missing or the file differs from the pinned one."""
    try:
        from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(f"basic-pitch is not installed ({exc}); pip install --no-deps basic-pitch=={VERSION}") from exc
    path = Path(build_icassp_2022_model_path(FilenameSuffix.onnx))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise RuntimeError(f"basic-pitch model {path} has sha256 {digest}, expected {MODEL_SHA256} (basic-pitch {VERSION})")
    return path


@lru_cache(maxsize=1)
def _model():
    import logging

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its import warns about absent TF/CoreML backends
    import onnxruntime as ort
    from basic_pitch.inference import Model

    model = Model(str(model_path()))
    # One intra-op thread, as for madmom's networks (tools._one_thread): `mir annotate` runs one worker per
    # core, and onnxruntime's default pool (one thread per core) spin-waits against the other workers.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    model.model = ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
    return model


def posteriorgram(mono: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """basic-pitch's frame outputs for a mono signal: {"note", "onset"}: (frames, 88), "contour": (frames, 264);
    86 frames per second. Windowing and unwrapping are basic-pitch's own (`basic_pitch.inference`)."""
    import librosa
    from basic_pitch.constants import AUDIO_N_SAMPLES, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    audio = librosa.resample(np.asarray(mono, dtype=np.float32), orig_sr=sr, target_sr=SAMPLE_RATE) if sr != SAMPLE_RATE else np.asarray(mono, np.float32)
    n_overlap = 30  # as basic_pitch.inference.run_inference
    overlap_len = n_overlap * FFT_HOP
    padded = np.concatenate([np.zeros(overlap_len // 2, dtype=np.float32), audio])
    model = _model()
    out: dict[str, list] = {"note": [], "onset": [], "contour": []}
    for window, _ in window_audio_file(padded, AUDIO_N_SAMPLES - overlap_len):
        for k, v in model.predict(np.expand_dims(window, axis=0)).items():
            out[k].append(v)
    return {k: unwrap_output(np.concatenate(v), len(audio), n_overlap) for k, v in out.items()}


def note_events(output: dict[str, np.ndarray], cfg: dict) -> list[list]:
    """[start_s, end_s, midi pitch, amplitude] per note (basic_pitch.note_creation, its default thresholds unless `cfg` sets them)."""
    from basic_pitch.note_creation import model_output_to_notes

    _, events = model_output_to_notes(output, onset_thresh=float(cfg.get("onset_threshold", 0.5)), frame_thresh=float(cfg.get("frame_threshold", 0.3)),
                                      min_note_len=int(cfg.get("min_note_frames", 11)), include_pitch_bends=False, melodia_trick=True)
    return [[round(float(s), 3), round(float(e), 3), int(p), round(float(a), 3)] for s, e, p, a, _ in events]


def pitch_class_profile(notes: list[list]) -> np.ndarray:
    """12 values, C first: duration x amplitude per pitch class, summing to 1 (zeros without notes)."""
    pcp = np.zeros(12)
    for s, e, pitch, amp in notes:
        pcp[int(pitch) % 12] += max(float(e) - float(s), 0.0) * float(amp)
    return pcp / pcp.sum() if pcp.sum() > 0 else pcp


def note_chroma(frames: np.ndarray) -> np.ndarray:
    """(frames, 88) note posteriorgram folded to (frames, 12) pitch classes, C first: the most probable octave
    of each class (a max, not a sum: the model's floor of about 0.1 in every bin would add up over 7 octaves)."""
    out = np.zeros((len(frames), 12))
    for i in range(frames.shape[1] if len(frames) else 0):
        out[:, (MIDI_LOW + i) % 12] = np.maximum(out[:, (MIDI_LOW + i) % 12], frames[:, i])
    return out


def _templates() -> tuple[np.ndarray, list[str]]:
    from musicflamingo.schemas import PITCH_CLASSES

    rows, labels = [], []
    for quality, steps in (("maj", _MAJ), ("min", _MIN)):
        for root in range(12):
            t = np.zeros(12)
            t[[(root + s) % 12 for s in steps]] = 1.0
            rows.append(t / np.linalg.norm(t))
            labels.append(f"{PITCH_CLASSES[root]}:{quality}")
    return np.array(rows), labels


def chords(chroma: np.ndarray, fps: float, beats: list[float], duration: float, min_posterior: float = 0.3) -> list[list]:
    """Beat-synchronous triads from note chroma: [start_s, end_s, Harte] merged, `N` where no pitch class
    reaches a mean note posterior of `min_posterior` over the beat (basic-pitch's own frame threshold, 0.3:
    nothing sounds)."""
    templates, labels = _templates()
    grid = [0.0, *[float(b) for b in beats if 0 < b < duration], float(duration)]
    out: list[list] = []
    for a, b in zip(grid[:-1], grid[1:]):
        seg = chroma[int(a * fps): max(int(b * fps), int(a * fps) + 1)]
        v = seg.mean(axis=0) if len(seg) else np.zeros(12)
        label = "N" if v.max() < min_posterior else labels[int(np.argmax(templates @ (v / (np.linalg.norm(v) + 1e-9))))]
        if out and out[-1][2] == label:
            out[-1][1] = round(b, 3)
        else:
            out.append([round(a, 3), round(b, 3), label])
    return out


def pitch_stats(notes: list[list], duration: float) -> dict[str, float | None]:
    """Register and texture of the notes: 10th/50th/90th percentile MIDI pitch (duration-weighted), mean number of
    notes sounding while any sounds (polyphony) and notes per second. Timbre-independent evidence of the
    instrument's range (a contrabass and a flute differ here whatever the tagger's vocabulary)."""
    if not notes:
        return {"p10": None, "median": None, "p90": None, "polyphony": None, "notes_per_s": 0.0}
    pitch = np.array([n[2] for n in notes], float)
    dur = np.array([max(n[1] - n[0], 1e-3) for n in notes])
    order = np.argsort(pitch)
    cum = np.cumsum(dur[order]) / dur.sum()
    at = lambda q: float(pitch[order][min(np.searchsorted(cum, q), len(cum) - 1)])  # noqa: E731
    step = 0.05  # notes sounding on a 50 ms grid, by +1/-1 at each note's start/end and a running sum
    delta = np.zeros(int(max(duration, 1e-3) / step) + 2)
    np.add.at(delta, np.clip((np.array([n[0] for n in notes]) / step).astype(int), 0, len(delta) - 1), 1)
    np.add.at(delta, np.clip((np.array([n[1] for n in notes]) / step).astype(int), 0, len(delta) - 1), -1)
    sounding = np.cumsum(delta)[:-1]
    return {"p10": at(0.1), "median": at(0.5), "p90": at(0.9),
            "polyphony": round(float(sounding[sounding > 0].mean()), 3) if (sounding > 0).any() else None,
            "notes_per_s": round(len(notes) / max(duration, 1e-3), 3)}


def evidence(mono: np.ndarray, sr: int, beats: list[float], duration: float, cfg: dict) -> dict:
    """{"notes" (count), "pitch" (`pitch_stats`), "pitch_class_profile" (12, C first), "key", "chords"} for one track."""
    from musicflamingo.mir import fuse
    from musicflamingo.mir.tools import index_key

    from basic_pitch.constants import ANNOTATIONS_FPS

    output = posteriorgram(mono, sr)
    notes = note_events(output, cfg)
    pcp = pitch_class_profile(notes)
    return {
        "notes": len(notes),
        "pitch": pitch_stats(notes, duration),
        "pitch_class_profile": [round(float(x), 4) for x in pcp],
        "key": index_key(int(np.argmax(fuse.chroma_key_scores(pcp)))) if pcp.any() else None,
        "chords": chords(note_chroma(output["note"]), float(ANNOTATIONS_FPS), beats, duration, float(cfg.get("frame_threshold", 0.3))),
    }
