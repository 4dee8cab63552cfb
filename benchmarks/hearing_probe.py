"""What can the frozen audio tower hear? A linear probe of the tiny profile's tower on the rendered demo corpus.

Issue 19 asks that SFT beat its no-audio control by 0.15 on the audio-answerable MCQ families. The
trained tiny model does not (`train_benchmark.py --hearing`). This benchmark separates the two
possible reasons: the frozen tower's output does not carry the facts at this data size, or the
projector + language model fail to use what it carries.

1. Renders the first `--pieces` demo pieces (`data=benchmark`, FluidR3; cached with mir_benchmark's
   renders), each with its exact truth (truth.json: General MIDI program, key, tempo, meter, voice).
2. Encodes the first 30 s of each piece with the tiny profile's audio tower (Whisper tiny.en encoder
   weights, `model.whisper_tower`), exactly as the model sees it (the processor's Whisper log-mel,
   then the AudioFlamingo3 encoder: 750 x 384 per window), and pools mean and std over time (768).
3. For each fact, a logistic regression (scikit-learn, standardised inputs, L2, C chosen inside each
   training fold) is scored by stratified k-fold cross-validation, next to the majority class (what
   a model that ignores the audio gets at best) and next to the same probe on the pooled log-mel the
   tower was given (80 x 2): is the tower better than its own input?

Printed: per fact, classes, n, majority, log-mel probe, tower probe, tower - majority with a 95 %
Wilson interval on the tower's accuracy. A probe at the majority rate means no trainable head on that
frozen tower can learn the fact from this many pieces, however long it trains.

Run: `nice .venv/bin/python benchmarks/hearing_probe.py [--pieces 100] [--folds 5] [--json out.json]`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def tempo_class(bpm: float) -> str:
    return "slow (<90)" if bpm < 90 else ("fast (>=130)" if bpm >= 130 else "moderate")


def labels_of(truth: dict) -> dict[str, str]:
    """The facts probed, from a rendered piece's exact truth."""
    from musicflamingo.mir.tagger import gm_family

    tonic, mode = truth["key"].split()
    out = {"mode": mode, "tonic": tonic, "tempo_class": tempo_class(float(truth["tempo_bpm"])), "time_signature": truth["time_signature"],
           "vocals": "sung" if truth.get("vocals") else "instrumental"}
    if truth.get("gm_program") is not None:
        out["instrument_family"] = gm_family(int(truth["gm_program"]))
    return out


def encode(wavs: list[Path], model_cfg) -> tuple[np.ndarray, np.ndarray]:
    """(n, 768) tower mean+std over time and (n, 160) log-mel mean+std, first 30 s of each file."""
    import torch

    from musicflamingo.model import build, whisper_tower
    from musicflamingo.model.inputs import load_audio

    torch.set_num_threads(1)
    processor = build.build_processor(int(model_cfg.vocab_size), int(model_cfg.encoder.num_mel_bins), float(model_cfg.max_audio_s))
    from transformers import AudioFlamingo3EncoderConfig
    from transformers.models.audioflamingo3.modeling_audioflamingo3 import AudioFlamingo3Encoder

    enc = model_cfg.encoder
    tower = AudioFlamingo3Encoder(AudioFlamingo3EncoderConfig(hidden_size=int(enc.hidden_size), num_hidden_layers=int(enc.layers),
                                                              num_attention_heads=int(enc.heads), intermediate_size=int(enc.ffn),
                                                              max_source_positions=int(enc.max_source_positions), num_mel_bins=int(enc.num_mel_bins)))
    whisper_tower.load_into(tower)
    tower.eval()
    fe = processor.feature_extractor
    towers, mels = [], []
    for wav in tqdm(wavs, desc="encode (tower)", unit="piece"):
        audio = load_audio(wav, 30.0, fe.sampling_rate)
        feats = fe(audio, sampling_rate=fe.sampling_rate, return_attention_mask=True, return_tensors="pt")
        mel = feats["input_features"]  # (1, 80, 3000)
        n = int(feats["attention_mask"].sum())
        with torch.no_grad():
            h = tower(mel, input_features_mask=feats["attention_mask"]).last_hidden_state[0]  # (750, 384)
        h = h[: max(1, n // 4)]  # the frames that hold audio (two stride-2 steps: conv2, then the pooling)
        towers.append(torch.cat([h.mean(0), h.std(0)]).numpy())
        m = mel[0, :, :n]
        mels.append(torch.cat([m.mean(1), m.std(1)]).numpy())
    return np.array(towers), np.array(mels)


def probe(x: np.ndarray, y: list[str], folds: int, seed: int) -> float:
    """Cross-validated accuracy of a standardised L2 logistic regression (C chosen by inner CV)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = Counter(y)
    k = max(2, min(folds, min(counts.values())))
    clf = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.001, 0.01, 0.1, 1.0], cv=max(2, min(3, k)), max_iter=2000, scoring="accuracy"))
    pred = cross_val_predict(clf, x, np.array(y), cv=StratifiedKFold(k, shuffle=True, random_state=seed))
    return float(np.mean(pred == np.array(y)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", type=int, default=100, help="demo pieces rendered and probed")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (fewer for a fact with a rare class)")
    ap.add_argument("--min-class", type=int, default=3, help="classes with fewer pieces are pooled into 'other'")
    ap.add_argument("--workdir", default=str(ROOT / ".cache/mir_benchmark"), help="render cache (shared with mir_benchmark)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()

    from musicflamingo.audio import demo_corpus
    from musicflamingo.config import compose

    cfg = compose(["data=benchmark"])
    demo = OmegaConf.to_container(cfg.data.demo, resolve=True)
    wavs, truths = [], []
    for wav, t in demo_corpus.render_corpus(demo, cfg.seed, Path(args.workdir) / "renders", args.pieces, desc=f"render {args.pieces} pieces"):
        if wav is not None:
            wavs.append(wav)
            truths.append(t)
    tower_x, mel_x = encode(wavs, cfg.model)
    labels = [labels_of(t) for t in truths]
    rows = []
    print(f"\n== linear probe of the frozen tower, {len(wavs)} rendered pieces, {args.folds}-fold CV ==")
    print(f"{'fact':18s} {'classes':>7s} {'n':>4s} {'majority':>9s} {'log-mel':>8s} {'tower':>7s} {'tower 95% CI':>15s} {'tower-majority':>15s}")
    for fact in ["instrument_family", "mode", "tonic", "tempo_class", "time_signature", "vocals"]:
        idx = [i for i, lab in enumerate(labels) if fact in lab]
        raw = [labels[i][fact] for i in idx]
        counts = Counter(raw)
        y = [v if counts[v] >= args.min_class else "other" for v in raw]
        if len(set(y)) < 2 or min(Counter(y).values()) < 2:
            print(f"{fact:18s} one class only ({dict(counts)}): not probed")
            continue
        majority = Counter(y).most_common(1)[0][1] / len(y)
        acc_mel = probe(mel_x[idx], y, args.folds, cfg.seed)
        acc_tower = probe(tower_x[idx], y, args.folds, cfg.seed)
        lo, hi = wilson(round(acc_tower * len(y)), len(y))
        rows.append({"fact": fact, "classes": len(set(y)), "n": len(y), "majority": majority, "log_mel": acc_mel, "tower": acc_tower, "tower_ci95": [lo, hi]})
        print(f"{fact:18s} {len(set(y)):7d} {len(y):4d} {majority:9.3f} {acc_mel:8.3f} {acc_tower:7.3f}   [{lo:.3f}, {hi:.3f}] {acc_tower - majority:+15.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pieces": len(wavs), "folds": args.folds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
