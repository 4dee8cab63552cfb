"""Batched, deterministic, resumable generation for evaluation.

`Predictor(...)(requests)` greedy-decodes each request (a human turn plus
one audio file) with one checkpoint. Outputs are cached per item, keyed by
the checkpoint's content hash, the prompt, the audio path and the decoding
settings, so an interrupted eval resumes where it stopped and an unchanged
checkpoint is never decoded twice. The audio tower runs through the
shared frozen-tower cache (`model.tower_cache`). A request whose audio cannot be read
gets an `error` instead of an output; the run goes on. A request with
`control="silence"` replaces its audio by as many zero samples (the no-audio
control of the evaluation report).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicflamingo.io import JsonCache, folder_fingerprint
from musicflamingo.model import inputs as mi
from musicflamingo.model.decode import decode_batches


@dataclass(frozen=True)
class Request:
    id: str
    human: str  # the user turn, starting with "<sound>"
    audio: str  # path, absolute or relative to the project root
    control: str = ""  # "" (the audio as is) or "silence": the same number of zero samples


@dataclass
class Prediction:
    id: str
    output: str | None
    error: str | None = None
    cached: bool = False


def checkpoint_hash(model_dir: Path) -> str:
    """The checkpoint's content fingerprint (`io.folder_fingerprint`, DVC's directory md5), 16 hex digits.

    Whole files, not a prefix: with the audio tower frozen, every checkpoint's first megabytes are the
    same tower tensors, and a prefix hash gave SFT the backbone's cached predictions."""
    return folder_fingerprint(model_dir)[:16]


class Predictor:
    def __init__(self, model_dir: Path, root: Path, max_audio_s: float, max_new_tokens: int, batch_size: int, cache_dir: Path):
        from musicflamingo.model import build as mb

        self.model_dir = Path(model_dir)
        self.model, self.processor = mb.load_pretrained(self.model_dir)
        self.model.eval()
        # Inference never trains the tower: each window is encoded once for every checkpoint
        # that shares its tower weights (all of them when training froze it).
        from musicflamingo.model import freeze
        from musicflamingo.model.tower_cache import TOWER_CACHE_DIR

        self.tower_cache = freeze.cache_frozen_tower(self.model, Path(root) / TOWER_CACHE_DIR)
        self.audio = mi.AudioLoader(root, max_audio_s, capacity=64)
        self.max_new_tokens, self.batch_size = int(max_new_tokens), int(batch_size)
        self.cache = JsonCache(Path(cache_dir) / checkpoint_hash(self.model_dir))
        self.decoded = 0
        self.seconds = 0.0

    def _key(self, r: Request, max_new_tokens: int) -> str:
        blob = json.dumps([r.human, r.audio, max_new_tokens, "greedy"] + ([r.control] if r.control else [])).encode()
        return hashlib.sha256(blob).hexdigest()

    def __call__(self, requests: list[Request], max_new_tokens: int | None = None) -> list[Prediction]:
        """Predictions in request order; `max_new_tokens` overrides the predictor's budget for this call."""
        budget = int(max_new_tokens or self.max_new_tokens)
        results: dict[str, Prediction] = {}
        todo: list[tuple[Request, object]] = []
        for r in requests:
            hit = self.cache.get(self._key(r, budget))
            if hit is not None:
                results[r.id] = Prediction(r.id, hit["output"], hit.get("error"), cached=True)
                continue
            try:
                wav = self.audio(r.audio)
                if r.control not in ("", "silence"):
                    raise ValueError(f"unknown audio control {r.control!r}")
                # silence keeps the clip's length, hence the number of <sound> tokens
                todo.append((r, np.zeros_like(wav) if r.control == "silence" else wav))
            except Exception as e:  # unreadable audio: report it with the item, keep going
                results[r.id] = Prediction(r.id, None, f"audio: {type(e).__name__}: {e}")
        t0 = time.perf_counter()
        humans = [r.human for r, _ in todo]
        for start, texts in decode_batches(self.model, self.processor, humans, lambda i: todo[i][1], budget, self.batch_size):
            for (r, _), text in zip(todo[start:], texts):
                self.cache.put(self._key(r, budget), {"output": text})
                results[r.id] = Prediction(r.id, text)
        self.decoded += len(todo)
        self.seconds += time.perf_counter() - t0
        return [results[r.id] for r in requests]

    @property
    def items_per_s(self) -> float | None:
        return round(self.decoded / self.seconds, 2) if self.seconds > 0 else None
