"""`train.*`: the backbone enhancement, SFT, the CoT cold start and GRPO (conf/train/<stage>.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from musicflamingo.configs.base import Fraction, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Section

RewardName = Literal["format", "accuracy", "structured"]
"""The GRPO reward components (`musicflamingo.train.rewards.REWARDS` implements exactly these)."""


class Trainable(Section):
    """Which parts train (AF3's stages: 1 = projector, 2 = encoder + projector, 3-4 = everything)."""

    audio_tower: bool = Field(description="Train the audio tower (false: frozen and cached per 30 s window).")
    projector: bool = Field(description="Train the audio-to-text projector.")
    language_model: bool = Field(description="Train the language model.")


class Lora(Section):
    enabled: bool = Field(description="A LoRA adapter on the language model (peft) instead of full weights.")
    r: PositiveInt = Field(description="Adapter rank.")
    alpha: PositiveInt = Field(description="Adapter scaling (lora_alpha).")
    dropout: Fraction = Field(description="Adapter dropout.")
    target_modules: list[str] = Field(min_length=1, description="Linear layers that get an adapter.")


class Trainer(Section):
    """HF Trainer settings shared by the supervised stages (TrainingArguments vocabulary)."""

    epochs: PositiveInt = Field(description="num_train_epochs.")
    per_device_batch_size: PositiveInt = Field(description="per_device_train_batch_size.")
    gradient_accumulation_steps: PositiveInt = Field(description="Micro-batches per optimizer step.")
    learning_rate: PositiveFloat = Field(description="Peak learning rate.")
    weight_decay: NonNegFloat = Field(description="AdamW weight decay.")
    max_grad_norm: PositiveFloat = Field(description="Gradient clipping norm.")
    warmup_ratio: float = Field(ge=0, lt=1, description="Share of the total steps spent warming up.")
    lr_scheduler: Literal["constant", "constant_with_warmup", "linear", "cosine"] = Field(description="lr_scheduler_type.")
    max_length: PositiveInt = Field(description="Context per item in tokens (audio included); longer items are cut.")
    group_by_length: bool = Field(description="Batches of similar length (less padding) instead of random order.")
    pack_turns: PositiveInt = Field(description="Records about one clip packed into one multi-turn conversation (train.data.pack_turns; 1: one record per item).")
    gradient_checkpointing: bool = Field(description="Recompute activations in the backward pass.")
    bf16: bool | Literal["auto"] = Field(description="bfloat16; auto: on when a CUDA device with bf16 is present.")
    deepspeed: bool = Field(description="Train under DeepSpeed with the `deepspeed` config.")
    logging_steps: PositiveInt = Field(description="Log every this many optimizer steps.")
    save_steps: PositiveInt = Field(description="Checkpoint every this many steps (resume after a kill).")
    trainable: Trainable
    lora: Lora


class MixtureSource(Section):
    """One ASR corpus of the backbone mixture (musicflamingo.speech.sources)."""

    name: str = Field(description="Source name (logged).")
    kind: Literal["espeak", "hf_disk", "jsonl"] = Field(description="espeak: synthesised offline; hf_disk: a saved HF dataset; jsonl: a manifest.")
    task: Literal["multilingual_asr", "multispeaker_asr", "lyrics"] = Field(description="Which AF3 backbone skill it trains.")
    weight: PositiveFloat = Field(description="Share of the mixture (relative).")
    n_per_task: PositiveInt | None = Field(None, description="espeak: utterances synthesised.")
    path: str | None = Field(None, description="hf_disk / jsonl: local path.")
    split: str | None = Field(None, description="hf_disk: dataset split.")
    audio_column: str | None = Field(None, description="hf_disk: audio column.")
    text_column: str | None = Field(None, description="hf_disk: transcript column.")
    audio_root: str | None = Field(None, description="jsonl: folder relative audio paths start from.")


class Backbone(Trainer):
    """Backbone enhancement: a short supervised run on an ASR mixture (steps 0 skips it)."""

    steps: NonNegInt = Field(description="Optimizer steps; 0: the backbone is the model as built or loaded.")
    examples: PositiveInt = Field(description="Rows drawn from the mixture, in proportion to the weights.")
    heldout: NonNegInt = Field(description="Of those, held out to measure the ASR loss before and after.")
    mixture: list[MixtureSource] = Field(min_length=1, description="ASR sources and their weights.")

    @model_validator(mode="after")
    def _heldout(self):
        if self.heldout >= self.examples:
            raise ValueError(f"train.backbone.heldout ({self.heldout}) must leave training rows of examples ({self.examples})")
        return self


class Supervised(Trainer):
    data: Literal["mf_skills", "mf_think"] = Field(description="Training set (a data stage).")
    max_steps: int = Field(description="Stop after this many steps; -1: run every epoch.")

    @model_validator(mode="after")
    def _steps(self):
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive or -1 (all epochs), got {self.max_steps}")
        return self


class Sft(Supervised):
    """SFT on MF-Skills (captions + QA)."""

    option_text_fraction: Fraction = Field(description="MCQs also asked in the MMAU/MMAR layout (unlettered choices).")
    task_weights: dict[str, NonNegFloat] = Field(description="Passes per epoch by task (unnamed tasks: 1).")


class SelectBest(Section):
    """Hold out some MF-Think tracks, probe after every epoch and end on the best epoch."""

    enabled: bool = Field(description="Select the best epoch by a greedy think/answer probe.")
    validation_fraction: float = Field(gt=0, lt=1, description="Share of MF-Think's tracks held out (never trained on).")
    metric: Literal["format", "accuracy", "structured", "reward", "mcq_accuracy"] = Field(description="probe_<metric> that ranks the epochs; reward uses train.grpo.reward_weights.")
    max_new_tokens: PositiveInt = Field(description="Greedy decoding budget of the probe, tokens.")
    patience: NonNegInt = Field(description="Epochs without a better probe before stopping (0: run every epoch).")


class Coldstart(Supervised):
    """Chain-of-thought cold start on MF-Think."""

    probe_max_new_tokens: NonNegInt = Field(description="After training: greedy think/answer probe on held-out MCQs; 0 = off.")
    select_best: SelectBest

    @model_validator(mode="after")
    def _lora(self):
        if self.select_best.enabled and self.lora.enabled:
            raise ValueError("train.coldstart: select_best with LoRA is not supported (checkpoints hold only the adapter)")
        return self


class RewardProbe(Section):
    prompts: NonNegInt = Field(description="Fixed training prompts whose sampled reward is measured; 0 = off.")
    every: PositiveInt = Field(description="Measure every this many steps (and at the end).")


class Grpo(Section):
    """Audio-aware GRPO (TRL's GRPOConfig vocabulary)."""

    steps: PositiveInt = Field(description="Policy steps.")
    prompts_per_step: PositiveInt = Field(description="Prompts per step; each is sampled num_generations times.")
    num_generations: int = Field(ge=2, description="G: completions per prompt (advantages are relative to the group).")
    max_new_tokens: PositiveInt = Field(description="Completion length bound, tokens (MF-Think chains run 57-290).")
    temperature: PositiveFloat = Field(description="Sampling temperature of the rollouts.")
    top_p: float = Field(gt=0, le=1, description="Nucleus sampling mass.")
    learning_rate: PositiveFloat = Field(description="AdamW learning rate.")
    epsilon: float = Field(gt=0, lt=1, description="Clip range of the probability ratio.")
    beta: NonNegFloat = Field(description="KL weight to the frozen reference.")
    num_iterations: PositiveInt = Field(description="mu: policy updates per batch of rollouts.")
    max_grad_norm: PositiveFloat = Field(description="Gradient clipping of each policy update.")
    adv_eps: PositiveFloat = Field(description="(r - mean) / (std + adv_eps) within a group.")
    reward_weights: dict[RewardName, NonNegFloat] = Field(min_length=1, description="Weight of each reward component in the total.")
    logging_steps: PositiveInt = Field(description="Log every this many steps.")
    reward_probe: RewardProbe
    trainable: Trainable


class Train(Section):
    backbone: Backbone
    sft: Sft
    coldstart: Coldstart
    grpo: Grpo


class DeepSpeed(Section):
    """A DeepSpeed config (ZeRO stage 2 or 3); "auto" values are filled in by the HF Trainer integration."""

    model_config = {**Section.model_config, "extra": "allow"}  # DeepSpeed's own schema validates the rest
    zero_optimization: dict[str, Any] = Field(description="ZeRO settings (stage, buckets, partitioning).")
    train_micro_batch_size_per_gpu: PositiveInt | Literal["auto"] = Field(description="Filled from per_device_batch_size when auto.")
    gradient_accumulation_steps: PositiveInt | Literal["auto"] = Field(description="Filled from the stage's when auto.")

    @model_validator(mode="after")
    def _stage(self):
        if self.zero_optimization.get("stage") not in (0, 1, 2, 3):
            raise ValueError(f"deepspeed.zero_optimization.stage must be 0-3, got {self.zero_optimization.get('stage')!r}")
        return self
