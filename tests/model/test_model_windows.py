"""Long audio: split into 30 s windows by MusicFlamingoProcessor (whose model applies RoTE per window index), every window's tokens in the sequence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.train import data as td

ROOT = Path(__file__).resolve().parents[2]


def test_a_70_s_clip_becomes_three_windows_with_their_tokens_and_trains(tmp_path):
    cfg = OmegaConf.merge(small_model_cfg(), {"max_audio_s": 90.0})
    model, processor = mb.build_tiny(cfg, None, seed=0)
    wav = (0.1 * np.random.default_rng(0).standard_normal(16000 * 70)).astype(np.float32)
    rec = {"id": "long", "conversations": [{"from": "human", "value": "<sound>\nDescribe."}, {"from": "gpt", "value": "A long piece."}]}
    ex = td.encode_example(processor, rec, wav, max_length=4096)
    assert ex["input_features"].shape == (3, 80, 3000) and ex["input_features_mask"].shape == (3, 3000)
    n_sound = int((ex["input_ids"] == processor.audio_token_id).sum())
    one = td.encode_example(processor, rec, wav[: 16000 * 20], max_length=4096)
    n_one = int((one["input_ids"] == processor.audio_token_id).sum())
    # 2 full windows + the 10 s tail (its mask counts only real frames)
    assert n_one == 500 and n_sound == 750 + 750 + 250
    batch = td.SupervisedCollator(processor.tokenizer.pad_token_id)([ex])
    out = model(**batch)
    assert torch.isfinite(out.loss)
