"""The one decoding loop (`model.decode`): batches, order, determinism, model mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from musicflamingo.model import build as mb
from musicflamingo.model.decode import decode, decode_batches

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, processor = mb.build_tiny(OmegaConf.load(ROOT / "conf/model/tiny.yaml"), tmp_path_factory.mktemp("m"), seed=0)
    return model, processor


def test_batches_cover_every_item_in_order_and_restore_the_mode(tiny):
    model, processor = tiny
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(16000 * (1 + i % 2)).astype(np.float32) * 0.1 for i in range(5)]
    humans = [f"<sound>\nWhat is the key of piece {i}?" for i in range(5)]
    loaded = []

    def audio_of(i):
        loaded.append(i)
        return clips[i]

    model.train()
    batches = list(decode_batches(model, processor, humans, audio_of, max_new_tokens=4, batch_size=2))
    assert [s for s, _ in batches] == [0, 2, 4] and [len(t) for _, t in batches] == [2, 2, 1]
    assert loaded == [0, 1, 2, 3, 4] and model.training  # each clip loaded once, in its batch; mode restored
    texts = [t for _, ts in batches for t in ts]
    assert all(isinstance(t, str) for t in texts)
    assert decode(model, processor, humans, clips.__getitem__, 4, 2) == texts  # greedy is deterministic
    with pytest.raises(ValueError, match="batch_size"):
        next(decode_batches(model, processor, humans, audio_of, 4, 0))
