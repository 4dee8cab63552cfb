"""Music auto-tagging with musicnn (MagnaTagATune model) ported to torch.

Model: `MTT_musicnn` of Pons & Serra, "musicnn: pre-trained convolutional
neural networks for music audio tagging" (ISMIR 2019 LBD), trained on
MagnaTagATune's 50 top tags (instruments, genre, mood, vocal/no vocal).
The weights come from the ISC-licensed PyPI wheel `musicnn==0.1.0`,
converted once by `weights/convert_musicnn.py` to `weights/musicnn_mtt.npz`
(licence notice in `weights/LICENSE-musicnn.md`); the forward pass below is a
re-implementation of `musicnn.models.build_musicnn` (front-end of timbral
7x38 / 7x67 and temporal 128/64/32 convolutions, a dense mid-end of three
1-D convolutions with residuals, max+mean pooling, two dense layers).
`mir annotate` runs that forward pass exported to ONNX (`weights/musicnn_mtt.onnx`,
`load`) on onnxruntime; `load_torch` is the port itself (the export's source).

Preprocessing follows `musicnn.extractor.batch_data` (16 kHz, 512-point FFT,
hop 256, 96 mel bands, `log10(10000 * mel + 1)`, 3 s patches of 187 frames)
with two fixes:
- the mel power is kept in float32: musicnn casts it to float16 first, so
  any bin above 6.55 overflows `10000 * x` to infinity and loud tracks all
  get the same tags;
- a clip shorter than one patch is repeat-padded (the training config's
  `pad_short: repeat-pad`) instead of crashing; the tail shorter than a patch
  is dropped as musicnn does, unless the clip has no full patch at all.

Output: per-patch sigmoid probabilities (the "taggram"), shape
(n_patches, 50), in the order of `LABELS`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
PATCH_S = PATCH_FRAMES * HOP / SR
WEIGHTS = Path(__file__).parent / "weights" / "musicnn_mtt.npz"
WEIGHTS_SHA256 = "b55f35a64fc45bd6ee050929d67a42f22dd29e37ca69ee0fc2464f44b2d6b5f9"
WEIGHTS_ONNX = WEIGHTS.with_suffix(".onnx")
WEIGHTS_ONNX_SHA256 = "abe21541ecab653768a988e59799518008c233e69b94b662b7e6acba228ca3b5"
TOOL = "musicnn 0.1.0 MTT_musicnn (torch port, ONNX on onnxruntime, float32 log-mel)"
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default


def log_mel(audio16: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 `log10(10000 * mel_power + 1)` of mono 16 kHz audio (finite for any finite input)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(audio16, dtype=np.float32), sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0)


def patches(logmel: np.ndarray) -> np.ndarray:
    """(n, 187, 96) non-overlapping 3 s patches; a clip under 3 s is repeat-padded to one patch."""
    if len(logmel) == 0:
        raise ValueError("no audio frames to tag")
    if len(logmel) < PATCH_FRAMES:
        logmel = np.tile(logmel, (-(-PATCH_FRAMES // len(logmel)), 1))[:PATCH_FRAMES]
    n = len(logmel) // PATCH_FRAMES
    return np.ascontiguousarray(logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS))


def _model_class():
    import torch
    from torch import nn

    class _Block(nn.Module):
        """conv -> relu -> batch norm -> max over frequency (musicnn's timbral_block / tempo_block)."""

        def __init__(self, out_ch: int, kernel: tuple[int, int], time_pad: tuple[int, int]):
            super().__init__()
            self.conv = nn.Conv2d(1, out_ch, kernel)
            self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)
            self.time_pad = time_pad

        def forward(self, x):  # x: (B, 1, T, 96) -> (B, C, T)
            x = nn.functional.pad(x, (0, 0, *self.time_pad))
            return self.bn(torch.relu(self.conv(x))).amax(dim=3)

    class _Mid(nn.Module):
        def __init__(self, in_ch: int, out_ch: int = 64):
            super().__init__()
            self.conv = nn.Conv1d(in_ch, out_ch, 7, padding=3)
            self.bn = nn.BatchNorm1d(out_ch, eps=BN_EPS)

        def forward(self, x):
            return self.bn(torch.relu(self.conv(x)))

    class MusiCNN(nn.Module):
        """musicnn `build_musicnn(num_filt_midend=64, num_units_backend=200)`; input (B, 187, 96) log-mel."""

        def __init__(self, n_tags: int = 50):
            super().__init__()
            self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
            # Timbral: time padded 3 each side ('same' in time, 'valid' in frequency); 0.4 / 0.7 of 96 bands.
            self.timbral_74 = _Block(204, (7, 38), (3, 3))
            self.timbral_77 = _Block(204, (7, 67), (3, 3))
            # Temporal: TF 'same' padding of an even kernel k puts (k-1)//2 before and the rest after.
            self.temporal_128 = _Block(51, (128, 1), (63, 64))
            self.temporal_64 = _Block(51, (64, 1), (31, 32))
            self.temporal_32 = _Block(51, (32, 1), (15, 16))
            self.mid1, self.mid2, self.mid3 = _Mid(561), _Mid(64), _Mid(64)
            self.pool_bn = nn.BatchNorm1d(2 * 753, eps=BN_EPS)
            self.dense = nn.Linear(2 * 753, 200)
            self.dense_bn = nn.BatchNorm1d(200, eps=BN_EPS)
            self.logits = nn.Linear(200, n_tags)

        def forward(self, x):
            """(B, 187, 96) log-mel -> (logits (B, 50), penultimate embedding (B, 200))."""
            x = self.input_bn(x.unsqueeze(1))
            front = torch.cat([m(x) for m in (self.timbral_74, self.timbral_77, self.temporal_128, self.temporal_64, self.temporal_32)], dim=1)
            m1 = self.mid1(front)
            m2 = self.mid2(m1) + m1
            m3 = self.mid3(m2) + m2
            feats = torch.cat([front, m1, m2, m3], dim=1)  # (B, 753, T)
            # TF concatenates [max, mean] on a trailing axis before flattening: interleaved per feature.
            pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).flatten(1)
            emb = self.dense_bn(torch.relu(self.dense(self.pool_bn(pooled))))
            return self.logits(emb), emb

    return MusiCNN


@lru_cache(maxsize=1)
def load_torch() -> tuple[object, tuple[str, ...]]:
    """(MusiCNN in eval mode with the converted MTT weights, its 50 tag labels). Checks the weights' sha256.

    The port's definition: `mir annotate` runs its ONNX export (`load`), which is built from this."""
    import torch

    from musicflamingo.whisper_weights import sha256_file

    if not WEIGHTS.is_file():
        raise FileNotFoundError(f"musicnn weights missing: {WEIGHTS} (convert with weights/convert_musicnn.py)")
    digest = sha256_file(WEIGHTS)
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"{WEIGHTS} has sha256 {digest}, expected {WEIGHTS_SHA256}")
    with np.load(WEIGHTS) as z:
        labels = tuple(str(s) for s in z["labels"])
        state = {k: torch.from_numpy(z[k]) for k in z.files if k != "labels"}
    model = _model_class()(len(labels))
    state |= {k: v for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")}
    model.load_state_dict(state, strict=True)
    return model.eval(), labels


@lru_cache(maxsize=1)
def load() -> tuple[object, tuple[str, ...]]:
    """(onnxruntime session of the port's ONNX export, its 50 tag labels). Checks the file's sha256.

    `weights/musicnn_mtt.onnx` is `load_torch()`'s model exported by `weights/convert_musicnn.py --onnx`
    (same outputs to 1e-6, tests/mir/test_tagger.py). onnxruntime, already loaded for madmom and
    basic-pitch, runs it in 0.66-0.77x the CPU time of torch on one thread, and `mir annotate` no
    longer imports torch (about 0.9 CPU-s per run; benchmarks/mir_benchmark.py). Labels are the
    model's metadata (`labels`, JSON). Raises FileNotFoundError / ValueError on a missing or altered file."""
    import json

    import onnxruntime as ort

    from musicflamingo.whisper_weights import sha256_file

    if not WEIGHTS_ONNX.is_file():
        raise FileNotFoundError(f"musicnn ONNX model missing: {WEIGHTS_ONNX} (export with weights/convert_musicnn.py --onnx)")
    digest = sha256_file(WEIGHTS_ONNX)
    if digest != WEIGHTS_ONNX_SHA256:
        raise ValueError(f"{WEIGHTS_ONNX} has sha256 {digest}, expected {WEIGHTS_ONNX_SHA256}")
    opts = ort.SessionOptions()
    # One thread, as for madmom's and basic-pitch's sessions: `mir annotate` runs one worker per core.
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(WEIGHTS_ONNX), sess_options=opts, providers=["CPUExecutionProvider"])
    return session, tuple(json.loads(session.get_modelmeta().custom_metadata_map["labels"]))


def taggram_from_patches(batch: np.ndarray, batch_size: int = 1) -> np.ndarray:
    """(n, 50) sigmoid tag probabilities for (n, 187, 96) log-mel patches.

    One patch at a time: the front end's activations for 16 patches (204 x 187 x 59
    floats each) spill out of the caches, and on one thread batches of 16 took
    30.6 CPU ms per audio-s against 14.0 for batches of 1 (same outputs to 2e-7, torch)."""
    session, _ = load()
    batch = np.asarray(batch, dtype=np.float32)
    out = [session.run(["logits"], {"patch": np.ascontiguousarray(batch[i : i + batch_size])})[0] for i in range(0, len(batch), batch_size)]
    logits = np.concatenate(out).astype(np.float64)
    return 1.0 / (1.0 + np.exp(-logits))


def taggram(audio: np.ndarray, sr: int) -> np.ndarray:
    """(n_patches, 50) tag probabilities of mono `audio`, one row per 3 s patch (`PATCH_S`) from 0 s."""
    import soxr

    audio16 = soxr.resample(audio, sr, SR) if sr != SR else audio
    return taggram_from_patches(patches(log_mel(audio16)))


def labels() -> tuple[str, ...]:
    return load()[1]


# MagnaTagATune tags by what they describe. Instrument tags carry the General MIDI family they name
# ("strings" is MTT's tag for string sections: GM's ensemble family; drum kits sit on GM channel 10,
# nearest family "percussive"). "classic" duplicates "classical" and "beat(s)" describe rhythm.
INSTRUMENT_FAMILY = {"guitar": "guitar", "piano": "piano", "harpsichord": "piano", "strings": "ensemble", "violin": "strings",
                     "cello": "strings", "harp": "strings", "flute": "pipe", "drums": "percussive", "sitar": "ethnic", "synth": "synth lead"}
# General MIDI's 16 instrument families, 8 programs each (GM 1 sound set): the benchmarks' instrument truth.
GM_FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed", "pipe",
               "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")


def gm_family(program: int) -> str:
    """The General MIDI family of a program number (0-127)."""
    if not 0 <= int(program) <= 127:
        raise ValueError(f"GM program {program} is outside 0-127")
    return GM_FAMILIES[int(program) // 8]


GENRE_TAGS = ("classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "new age", "dance", "country", "metal")
MOOD_TAGS = ("slow", "fast", "loud", "quiet", "soft", "weird")


def tag_facts(tg: np.ndarray, cfg: dict) -> dict:
    """Instruments, genres and moods whose track probability (mean over the 3 s patches, musicnn's own
    aggregation) reaches the configured threshold, best first, each with its probability.

    Returns {"instruments": [[tag, gm_family, p]], "genres": [[tag, p]], "moods": [[tag, p]],
    "tag_probabilities": {tag: p for all 50 tags}}.
    """
    mean = tg.mean(axis=0)
    p = {lab: round(float(v), 4) for lab, v in zip(labels(), mean)}

    def over(tags, threshold):
        return sorted(([t, p[t]] for t in tags if p[t] >= float(threshold)), key=lambda x: -x[1])

    return {
        "instruments": [[t, INSTRUMENT_FAMILY[t], q] for t, q in over(INSTRUMENT_FAMILY, cfg["instrument_threshold"])],
        "genres": over(GENRE_TAGS, cfg["genre_threshold"]),
        "moods": over(MOOD_TAGS, cfg["mood_threshold"]),
        "tag_probabilities": p,
    }
