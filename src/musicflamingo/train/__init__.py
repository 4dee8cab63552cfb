"""Training: supervised (SFT, cold start) under the HF Trainer + DeepSpeed, and audio-aware GRPO."""
