"""Frozen-tower feature cache: same outputs, each window encoded once, unfrozen training unaffected."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from musicflamingo.model import build as mb
from musicflamingo.model import freeze
from musicflamingo.model import inputs as mi
from musicflamingo.model import tower_cache as tc
from musicflamingo.testing.fixtures import small_model_cfg


def _batch(processor, seconds=(3.0, 5.0)):
    sr = 16000
    clips = [np.sin(2 * np.pi * f * np.arange(int(s * sr)) / sr).astype(np.float32) * 0.3 for f, s in zip((220, 330), seconds)]
    prompts = [mi.prompt_text(processor, "<sound>\nWhat is the key?")] * len(clips)
    return mi.encode_prompts(processor, prompts, clips)


@pytest.fixture()
def built():
    return mb.build_tiny(small_model_cfg(), None, seed=0)


def test_cached_tower_gives_the_same_logits_and_encodes_each_window_once(built, tmp_path):
    model, processor = built
    model.eval()
    batch = mi.model_inputs(_batch(processor))
    with torch.no_grad():
        plain = model(**batch).logits
    freeze.apply_trainable(model, {"audio_tower": False})
    calls = []
    model.model.audio_tower.register_forward_pre_hook(lambda m, a, k: calls.append(1), with_kwargs=True)
    cache = tc.install(model, tmp_path)
    with torch.no_grad():
        first = model(**batch).logits
        second = model(**batch).logits
    assert torch.equal(plain, first) and torch.equal(first, second)
    assert (cache.misses, cache.hits) == (2, 2)
    assert len(list((tmp_path / cache.key[:16]).glob("*.npy"))) == 2
    # a new process (fresh cache object) reads the windows from disk
    cache.remove()
    again = tc.install(model, tmp_path)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, plain)
    assert (again.misses, again.hits) == (0, 2)
    # GRPO's deep-copied reference shares the cache
    ref = copy.deepcopy(model)
    with torch.no_grad():
        assert torch.equal(ref(**batch).logits, plain)
    assert again.hits == 4


def test_key_changes_with_window_content_and_tower_weights(built, tmp_path):
    model, processor = built
    tower = tc.tower_of(model)
    b = _batch(processor)
    f, m = b["input_features"], b["input_features_mask"]
    assert tc.window_hash(f[0], m[0]) != tc.window_hash(f[1], m[1])
    before = tc.weights_hash(tower)
    with torch.no_grad():
        tower.conv1.bias[0] += 1e-3
    assert tc.weights_hash(tower) != before


def test_a_training_tower_is_never_cached_and_still_learns(built, tmp_path):
    model, processor = built
    counts = freeze.apply_trainable(model, {"audio_tower": True})
    assert counts["audio_tower"] > 0
    model = freeze.prepare(model, {"trainable": {"audio_tower": True}}, tmp_path)
    assert not isinstance(getattr(tc.tower_of(model).forward, "__self__", None), tc.TowerCache)
    with pytest.raises(ValueError, match="requires_grad"):
        tc.TowerCache(tc.tower_of(model))
    batch = dict(mi.model_inputs(_batch(processor)))
    batch["labels"] = batch["input_ids"].masked_fill(batch["input_ids"] == processor.audio_token_id, -100)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w0 = model.model.audio_tower.conv1.weight.detach().clone()
    model.train()
    model(**batch).loss.backward()
    assert model.model.audio_tower.conv1.weight.grad is not None
    opt.step()
    assert not torch.equal(w0, model.model.audio_tower.conv1.weight)
    assert not list(tmp_path.rglob("*.npy"))


def test_frozen_tower_training_updates_projector_not_tower(built, tmp_path):
    model, processor = built
    model = freeze.prepare(model, {"trainable": {"audio_tower": False}}, tmp_path)
    cache = tc.tower_of(model).forward.__self__
    batch = dict(mi.model_inputs(_batch(processor)))
    batch["labels"] = batch["input_ids"].masked_fill(batch["input_ids"] == processor.audio_token_id, -100)
    w0 = model.model.audio_tower.conv1.weight.detach().clone()
    p0 = model.model.multi_modal_projector.linear_1.weight.detach().clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    for _ in range(2):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    assert torch.equal(w0, model.model.audio_tower.conv1.weight)
    assert not torch.equal(p0, model.model.multi_modal_projector.linear_1.weight)
    assert (cache.misses, cache.hits) == (2, 2)
