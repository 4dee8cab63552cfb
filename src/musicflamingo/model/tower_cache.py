"""Frozen audio tower: each 30 s window is encoded once, then read from a cache.

Audio Flamingo 3's early stages train with the Whisper-style tower frozen, and
evaluation never trains it. A frozen tower is a pure function of its input
window, so its output (`last_hidden_state`, 750 x d per 30 s window) can be
computed once and reused by SFT, cold start, GRPO (policy and reference) and
eval; they then spend compute only on the projector and the language model.

Contract:
- `weights_hash(tower)` -> sha256 hex over the tower's parameter and buffer
  names, dtypes, shapes and bytes.
- `window_hash(features, mask)` -> sha256 hex of one window's log-mel
  features (mel x frames, float32) and its frame mask: the window content
  exactly as the tower sees it.
- `TowerCache(tower, folder=None, capacity=256)` replaces `tower.forward`
  (the module and its state dict are unchanged, so checkpoints are too).
  A call encodes only the windows whose key (window hash, weights hash) is
  in neither the in-memory LRU (`capacity` windows) nor `folder`
  (`<folder>/<weights hash[:16]>/<window hash>.npy`, written atomically),
  under `torch.no_grad()` in eval mode, and returns the same
  `BaseModelOutputWithPooling(last_hidden_state=(windows, T, d))` as the
  tower. `hits` / `misses` count windows. `remove()` restores the tower.
  Raises ValueError when the tower has a parameter that requires grad
  (a cache of a tower that trains would serve stale outputs).
- `install(model, folder)` puts a `TowerCache` on `model`'s audio tower when
  every tower parameter is frozen and returns it (the one already there, if
  any); returns None (and leaves the model alone) when the tower trains.
  `TOWER_CACHE_DIR` is the folder (relative to the project root) that every
  stage shares, so SFT, cold start, GRPO and eval encode each window once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch


def weights_hash(tower: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted({**dict(tower.named_parameters()), **dict(tower.named_buffers())}.items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def window_hash(features: torch.Tensor, mask: torch.Tensor | None) -> str:
    h = hashlib.sha256()
    h.update(features.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    if mask is not None:
        h.update(mask.detach().to("cpu", torch.int8).contiguous().numpy().tobytes())
    return h.hexdigest()


def tower_of(model) -> torch.nn.Module:
    """The audio tower of a Music Flamingo / AF3 model (also inside a peft or DeepSpeed wrapper)."""
    m = model
    for _ in range(5):
        if isinstance(getattr(m, "audio_tower", None), torch.nn.Module):
            return m.audio_tower
        m = getattr(m, "model", None) or getattr(m, "module", None)
        if m is None:
            break
    raise ValueError(f"{type(model).__name__} has no audio_tower")


class TowerCache:
    def __init__(self, tower: torch.nn.Module, folder: str | Path | None = None, capacity: int = 256):
        if any(p.requires_grad for p in tower.parameters()):
            raise ValueError("the audio tower trains (requires_grad): its outputs cannot be cached")
        self.tower, self.capacity = tower, int(capacity)
        self.key = weights_hash(tower)
        self.folder = Path(folder) / self.key[:16] if folder is not None else None
        self._mem: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.hits = self.misses = 0
        self._forward = tower.forward
        tower.forward = self.forward

    def __deepcopy__(self, memo):
        # A deep copy of the model (GRPO's frozen reference) has the same frozen tower
        # weights, hence the same outputs: it shares this cache instead of copying it.
        return self

    def remove(self) -> None:
        if self.tower.forward == self.forward:
            del self.tower.forward  # the class's forward again

    def _get(self, key: str) -> torch.Tensor | None:
        if key in self._mem:
            self._mem.move_to_end(key)
            return self._mem[key]
        if self.folder is not None:
            path = self.folder / f"{key}.npy"
            if path.is_file():
                out = torch.from_numpy(np.load(path))
                self._put(key, out)
                return out
        return None

    def _put(self, key: str, value: torch.Tensor, persist: bool = False) -> None:
        self._mem[key] = value
        if len(self._mem) > self.capacity:
            self._mem.popitem(last=False)
        if persist and self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npy.tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, value.numpy())
            os.replace(tmp, self.folder / f"{key}.npy")

    def forward(self, input_features: torch.Tensor, input_features_mask: torch.Tensor | None = None, **kwargs):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        n = input_features.shape[0]
        keys = [window_hash(input_features[i], None if input_features_mask is None else input_features_mask[i]) for i in range(n)]
        found = [self._get(k) for k in keys]
        todo = [i for i in range(n) if found[i] is None]
        self.hits += n - len(todo)
        self.misses += len(todo)
        if todo:
            was_training = self.tower.training
            self.tower.eval()
            with torch.no_grad():
                idx = torch.tensor(todo, device=input_features.device)
                mask = None if input_features_mask is None else input_features_mask.index_select(0, idx)
                out = self._forward(input_features.index_select(0, idx), input_features_mask=mask, return_dict=True)
            self.tower.train(was_training)
            for j, i in enumerate(todo):
                found[i] = out.last_hidden_state[j].detach().to("cpu", torch.float32).clone()
                self._put(keys[i], found[i], persist=True)
        dtype = next(self.tower.parameters()).dtype
        hidden = torch.stack(found).to(input_features.device, dtype)
        return BaseModelOutputWithPooling(last_hidden_state=hidden)


TOWER_CACHE_DIR = Path(".cache") / "tower_features"  # under the project root


def install(model, folder: str | Path | None = None, capacity: int = 256) -> TowerCache | None:
    """A `TowerCache` on `model`'s audio tower when the tower is frozen, else None."""
    tower = tower_of(model)
    if any(p.requires_grad for p in tower.parameters()):
        return None
    existing = getattr(tower.forward, "__self__", None)
    if isinstance(existing, TowerCache):
        return existing
    return TowerCache(tower, folder, capacity)
