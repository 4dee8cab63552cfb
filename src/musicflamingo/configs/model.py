"""`model`: the backbone profile (conf/model/<profile>.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from musicflamingo.configs.base import PositiveFloat, PositiveInt, Section


class Encoder(Section):
    weights: Literal["whisper-tiny.en"] = Field(description="Pretrained audio tower (the pinned Whisper tiny.en encoder).")
    hidden_size: PositiveInt = Field(description="Encoder width.")
    layers: PositiveInt = Field(description="Encoder layers.")
    heads: PositiveInt = Field(description="Attention heads.")
    ffn: PositiveInt = Field(description="Feed-forward width.")
    max_source_positions: PositiveInt = Field(description="Encoder positions per 30 s window.")
    num_mel_bins: PositiveInt = Field(description="Log-mel bins of the feature extractor.")


class Text(Section):
    hidden_size: PositiveInt = Field(description="Language-model width.")
    layers: PositiveInt = Field(description="Language-model layers.")
    heads: PositiveInt = Field(description="Attention heads.")
    kv_heads: PositiveInt = Field(description="Key/value heads (grouped-query attention).")
    ffn: PositiveInt = Field(description="Feed-forward width.")
    max_position_embeddings: PositiveInt = Field(description="Context length, tokens.")

    @model_validator(mode="after")
    def _heads(self):
        if self.hidden_size % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"model.text: hidden_size {self.hidden_size} / heads {self.heads} / kv_heads {self.kv_heads} must divide evenly")
        return self


class Model(Section):
    """The backbone: a tiny model built offline, or a real AF3 / Music Flamingo checkpoint from a local folder."""

    profile: Literal["tiny", "af3", "music_flamingo"] = Field(description="Which conf/model option this is.")
    source: Literal["build", "local"] = Field(description="build: construct offline from `encoder`/`text`; local: load `path`.")
    path: str | None = Field(description="Local checkpoint folder (source local); nothing is downloaded.")
    encoder: Encoder | None = Field(None, description="Audio tower shape (source build).")
    text: Text | None = Field(None, description="Language-model shape (source build).")
    vocab_size: PositiveInt | None = Field(description="Tokenizer size (source build); null: the checkpoint's.")
    max_audio_s: PositiveFloat = Field(description="Audio read per item (longer audio is cut), s.")

    @model_validator(mode="after")
    def _source(self):
        if self.source == "build" and (self.encoder is None or self.text is None or self.vocab_size is None):
            raise ValueError("model.source=build needs model.encoder, model.text and model.vocab_size")
        if self.source == "local" and not self.path:
            raise ValueError("model.source=local needs model.path (a local checkpoint folder)")
        return self
