"""The `audio-model` surface captioner: an Audio Flamingo 3 / Music Flamingo checkpoint.

Two ways to reach it:
- `served`: an OpenAI-compatible chat server that accepts audio
  (`{"type": "input_audio", "input_audio": {"data": <base64 wav>, "format": "wav"}}`),
  e.g. vLLM serving the checkpoint; reached through `OpenAIChat` (timeouts,
  retries, cache and size bounds as there).
- `local`: the checkpoint loaded from a local folder with transformers'
  `AutoProcessor` + `AutoModelForSeq2SeqLM`/`AudioFlamingo3ForConditionalGeneration`.

Not exercised with real weights in this repository (no checkpoint is shipped
and nothing is downloaded); the served path is tested against a local HTTP
server, the local path is covered by the backbone's own loader tests.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from musicflamingo.llm.base import LLMError
from musicflamingo.llm.prompts import render

SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0


def segment_wav_bytes(path: Path, start_s: float, end_s: float) -> bytes:
    """One window of a track as 16 kHz mono WAV bytes (at most 30 s)."""
    import soundfile as sf

    from musicflamingo.audio.loader import load_mono

    end_s = min(end_s, start_s + MAX_SECONDS)
    clip = load_mono(path, SAMPLE_RATE, start_s=start_s, duration_s=max(end_s - start_s, 0.0))
    buf = io.BytesIO()
    sf.write(buf, clip, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class ServedAudioCaptioner:
    name = "audio-model"

    def __init__(self, chat):
        self.chat = chat

    def caption(self, wav: bytes, tags: dict) -> str:
        content = [
            {"type": "text", "text": render("surface_caption.jinja", tags=tags)},
            {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}},
        ]
        reply = self.chat.chat([{"role": "user", "content": content}])
        text = reply.text.strip()
        if not text:
            raise LLMError("empty caption from the audio model")
        return text


class LocalAudioCaptioner:
    name = "audio-model"

    def __init__(self, model_path: str, max_new_tokens: int = 200, device: str = "cpu"):
        from transformers import AutoModelForSeq2SeqLM, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_path, local_files_only=True).to(device).eval()
        self.max_new_tokens, self.device = max_new_tokens, device

    def caption(self, wav: bytes, tags: dict) -> str:
        import soundfile as sf
        import torch

        audio, _ = sf.read(io.BytesIO(wav), dtype="float32")
        conv = [{"role": "user", "content": [{"type": "text", "text": render("surface_caption.jinja", tags=tags)}, {"type": "audio", "audio": audio}]}]
        inputs = self.processor.apply_chat_template(conv, tokenize=True, add_generation_prompt=True, return_dict=True).to(self.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip()
