"""Which parts of Music Flamingo a training stage updates: per-part freezing and LoRA.

Audio Flamingo 3 trains in stages with different parts frozen (stage 1: the
projector only; stage 2: encoder + projector; stages 3-4: everything), and
each of our training stages says the same in its config:

    trainable: {audio_tower: true, projector: true, language_model: true}
    lora: {enabled: false, r: 16, alpha: 32, dropout: 0.05, target_modules: [...]}

Contract:
- `PARTS` maps a part name to the parameter-name prefixes it covers
  (`language_model` includes the output head).
- `apply_trainable(model, trainable)` sets `requires_grad` per part (a part
  not named stays trainable) and returns `trainable_counts(model)`. Raises
  ValueError for an unknown part name or when nothing would train.
- `apply_lora(model, lora_cfg, trainable)` wraps the model with a peft LoRA
  adapter on the language model's `target_modules` (the base language model
  is then frozen); the audio tower and projector keep the `trainable` flags.
  Returns the `PeftModel`. `merged(model)` folds the adapter back into the
  weights (`merge_and_unload`), so every stage hands the next one a plain
  `save_pretrained` checkpoint; a model without an adapter is returned as is.
- `prepare(model, stage_cfg, cache_dir=None)` applies both from a stage
  config (either key may be missing: everything trains, no LoRA). With
  `cache_dir` and a frozen audio tower, the tower's outputs are cached per
  30 s window there (`model.tower_cache`), so the stage spends compute only
  on the projector and the language model.
- `cache_frozen_tower(model, cache_dir)` freezes the audio tower and caches
  it (inference: evaluation, or a reloaded checkpoint of a frozen-tower
  stage); returns the `TowerCache`.
"""

from __future__ import annotations

PARTS: dict[str, tuple[str, ...]] = {
    "audio_tower": ("model.audio_tower.",),
    "projector": ("model.multi_modal_projector.",),
    "language_model": ("model.language_model.", "lm_head."),
}


def _plain(cfg) -> dict:
    if cfg is None:
        return {}
    if isinstance(cfg, dict):
        return dict(cfg)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


def part_of(name: str) -> str | None:
    # peft prefixes names with "base_model.model."; strip it to find the part
    name = name.removeprefix("base_model.model.")
    return next((part for part, prefixes in PARTS.items() if name.startswith(prefixes)), None)


def trainable_counts(model) -> dict[str, int]:
    """Number of trainable parameters per part (plus `lora` for adapter weights and `total`)."""
    counts = dict.fromkeys([*PARTS, "lora"], 0)
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = "lora" if "lora_" in name else (part_of(name) or "other")
            counts[key] = counts.get(key, 0) + p.numel()
    counts["total"] = sum(counts.values())
    return counts


def apply_trainable(model, trainable) -> dict[str, int]:
    flags = _plain(trainable)
    unknown = set(flags) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown trainable part(s) {sorted(unknown)}; known: {list(PARTS)}")
    for name, p in model.named_parameters():
        part = part_of(name)
        p.requires_grad_(bool(flags.get(part, True)) if part else True)
    counts = trainable_counts(model)
    if counts["total"] == 0:
        raise ValueError(f"trainable={flags} freezes every parameter: nothing would train")
    return counts


def apply_lora(model, lora_cfg, trainable=None):
    from peft import LoraConfig, get_peft_model

    c = _plain(lora_cfg)
    targets = list(c.get("target_modules") or ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    # Only the language model's projections get adapters (the encoder has q/k/v_proj too).
    pattern = r"model\.language_model\..*\.(" + "|".join(targets) + ")"
    config = LoraConfig(
        r=int(c.get("r", 16)),
        lora_alpha=int(c.get("alpha", 32)),
        lora_dropout=float(c.get("dropout", 0.05)),
        target_modules=pattern,
        bias="none",
    )
    wrapped = get_peft_model(model, config)
    flags = _plain(trainable)
    for name, p in wrapped.named_parameters():
        part = part_of(name)
        if part in ("audio_tower", "projector") and "lora_" not in name:
            p.requires_grad_(bool(flags.get(part, True)))
    return wrapped


def merged(model):
    """A plain transformers model: the LoRA adapter folded into the weights, if there is one."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model


def cache_frozen_tower(model, cache_dir):
    from musicflamingo.model import tower_cache

    tower_cache.tower_of(model).requires_grad_(False)
    return tower_cache.install(model, cache_dir)


def prepare(model, stage_cfg, cache_dir=None):
    """Freeze per `stage_cfg.trainable`, cache a frozen tower's outputs in `cache_dir`,
    then add LoRA when `stage_cfg.lora.enabled`."""
    trainable = stage_cfg.get("trainable") if hasattr(stage_cfg, "get") else None
    apply_trainable(model, trainable)
    if cache_dir is not None:
        from musicflamingo.model import tower_cache

        tower_cache.install(model, cache_dir)
    lora = stage_cfg.get("lora") if hasattr(stage_cfg, "get") else None
    if lora is not None and bool(_plain(lora).get("enabled", False)):
        model = apply_lora(model, lora, trainable)
    return model
