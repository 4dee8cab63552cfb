"""From conversation records to model inputs, shared by training, GRPO and evaluation.

Contract:
- `load_audio(path, max_s)` returns 16 kHz mono float32 samples, cut to the
  first `max_s` seconds (WAV at any rate/channel count in; soxr resampling).
- `AudioLoader(root, max_s)` resolves a record's `sound` (relative to the
  project root) and caches a few decoded clips, since QA items share tracks.
- `prompt_text(processor, human)` is the chat-templated user turn followed
  by the assistant header: exactly the prefix the model continues.
- `encode_prompts(processor, prompts, audios)` returns the processor's
  left-padded batch (`input_ids`, `attention_mask`, `input_features`,
  `input_features_mask`), where each `<sound>` became
  `<|sound_bos|>` + N x `<sound>` + `<|sound_eos|>`.
- `generate(model, processor, batch, ...)` decodes only the new tokens and
  passes the audio features to `generate` (so the audio conditions the output).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from musicflamingo.model.build import SAMPLING_RATE


def load_audio(path: str | Path, max_s: float, sr_out: int = SAMPLING_RATE) -> np.ndarray:
    """The first `max_s` seconds of `path`, mono float32 at `sr_out` Hz (the shared loader; only that window is decoded)."""
    from musicflamingo.audio.loader import load_mono

    return load_mono(path, sr_out, duration_s=max_s)[: int(round(max_s * sr_out))]


class AudioLoader:
    """Decode `record["sound"]` relative to `root`, keeping the last `capacity` clips."""

    def __init__(self, root: Path, max_s: float, capacity: int = 16):
        self.root, self.max_s, self.capacity = Path(root), float(max_s), capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, sound: str) -> np.ndarray:
        if sound in self._cache:
            self._cache.move_to_end(sound)
            return self._cache[sound]
        path = Path(sound) if Path(sound).is_absolute() else self.root / sound
        wav = load_audio(path, self.max_s)
        self._cache[sound] = wav
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return wav


def human_turn(record: dict) -> str:
    return next(t["value"] for t in record["conversations"] if t["from"] == "human")


def gpt_turn(record: dict) -> str:
    return next(t["value"] for t in record["conversations"] if t["from"] == "gpt")


def prompt_text(processor, human: str) -> str:
    """The user turn plus the assistant header, as the chat template renders it."""
    return processor.apply_chat_template(
        [{"role": "user", "content": human}], tokenize=False, add_generation_prompt=True
    )


def encode_prompts(processor, prompts: list[str], audios: list[np.ndarray]):
    """Left-padded prompt batch with audio features (one clip per prompt).

    Text padding (left) is the processor's default. No padding argument is
    passed on purpose: it would also reach the feature extractor and pad the
    mel windows to the longest clip instead of the 30 s (3000 frame) window
    the encoder and its RoTE timestamps were trained with.
    """
    return processor(text=prompts, audio=audios, sampling_rate=SAMPLING_RATE)


def model_inputs(batch) -> dict:
    """The keys of a processor batch that the model's forward/generate accept."""
    keys = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    return {k: batch[k] for k in keys if k in batch}


def audio_token_ids(config) -> list[int]:
    """The audio placeholder ids (`<sound>`, its bos/eos) that a config names."""
    names = ("audio_token_id", "audio_bos_token_id", "audio_eos_token_id")
    return [i for i in (getattr(config, n, None) for n in names) if i is not None]


@torch.no_grad()
def generate(
    model, processor, batch, max_new_tokens: int, do_sample: bool = False, **kwargs
) -> tuple[torch.Tensor, list[str]]:
    """(new token ids, decoded texts) for a left-padded prompt batch, audio included."""
    inputs = {k: v.to(model.device) for k, v in model_inputs(batch).items()}
    tok = processor.tokenizer
    # Audio placeholders are input-only: sampled into a completion (an untrained
    # policy does), they would make the next forward pass expect audio features
    # that do not exist, and GRPO's log-prob pass would fail.
    suppress = sorted(set(kwargs.pop("suppress_tokens", None) or []) | set(audio_token_ids(model.config)))
    out = model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        suppress_tokens=suppress,
        **kwargs,
    )
    new = out[:, inputs["input_ids"].shape[1] :]
    return new, tok.batch_decode(new, skip_special_tokens=True)
