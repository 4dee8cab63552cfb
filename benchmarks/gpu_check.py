"""GPU smoke check of the training code at real shapes (random weights from config, nothing downloaded).

    .venv/bin/python benchmarks/gpu_check.py [--lm-layers N] [--seq 4096] [--steps 4] [--grpo-steps 20]

1. ZeRO-3 + bf16: a few DeepSpeed training steps of MusicFlamingoForConditionalGeneration
   at the 8B Music Flamingo widths (AF3 Whisper-large encoder: 1280 hidden, 32 layers;
   Qwen2.5-7B decoder: 3584 hidden, 28 heads / 4 KV heads, 18944 FFN, 152064 vocab),
   one 30 s audio window (750 audio tokens) per sequence, gradient checkpointing.
   On one GPU ZeRO-3 cannot partition anything, and 16 bytes per parameter
   (bf16 weights and grads, fp32 master and Adam moments) of the full 28-layer
   decoder do not fit 80 GB, so `--lm-layers` defaults to the depth that fits
   the free memory; the widths (what sets the kernels' shapes) are the 8B ones.
   Prints tokens/s and MFU = 6 * params * tokens/s / peak bf16 FLOP/s (dense,
   attention FLOPs not counted: a lower bound).
2. AudioGRPO at a mid-size shape (encoder 512 x 6, decoder 1024 x 8): `--grpo-steps`
   steps of G=5 samples for 2 prompts, 64 new tokens; prints rollouts/s.
Without a CUDA device it prints why and exits 0 without doing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0}
TEXT_8B = dict(hidden_size=3584, num_attention_heads=28, num_key_value_heads=4, intermediate_size=18944, vocab_size=152064)
AUDIO_8B = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=20, intermediate_size=5120, num_mel_bins=128)


def peak_tflops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def fitting_layers(free_bytes: int, bytes_per_param: int = 16, headroom: float = 0.7) -> int:
    """Decoder layers whose training state fits `headroom` of free memory next to embeddings and encoder."""
    h, f, v = TEXT_8B["hidden_size"], TEXT_8B["intermediate_size"], TEXT_8B["vocab_size"]
    kv = h // TEXT_8B["num_attention_heads"] * TEXT_8B["num_key_value_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * f
    fixed = 2 * v * h + 32 * 12 * 1280**2 + 1280 * 5120  # embeddings + head, encoder, projector (rough)
    return max(1, min(28, int((headroom * free_bytes / bytes_per_param - fixed) // per_layer)))


def zero3_step(args) -> dict:
    import deepspeed
    import torch
    from transformers import AudioFlamingo3EncoderConfig, MusicFlamingoConfig, MusicFlamingoForConditionalGeneration, Qwen2Config

    from musicflamingo.train import distributed as dist

    free, _ = torch.cuda.mem_get_info()
    layers = args.lm_layers or fitting_layers(free)
    config = MusicFlamingoConfig(
        audio_config=AudioFlamingo3EncoderConfig(**AUDIO_8B, max_source_positions=1500),
        text_config=Qwen2Config(**TEXT_8B, num_hidden_layers=layers, max_position_embeddings=32768, tie_word_embeddings=False),
    )
    ds_config = {
        "train_micro_batch_size_per_gpu": args.batch,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": 1.0,
        "bf16": {"enabled": True},
        "zero_optimization": {"stage": 3, "overlap_comm": True, "contiguous_gradients": True},
        "optimizer": {"type": "AdamW", "params": {"lr": 1e-5, "weight_decay": 0.0, "torch_adam": True}},
        "zero_allow_untested_optimizer": True,
    }
    with dist.single_process_group(Path(tempfile.mkdtemp(prefix="mf-gpu-")), backend="nccl"):
        with deepspeed.zero.Init(config_dict_or_path=ds_config, dtype=torch.bfloat16):
            model = MusicFlamingoForConditionalGeneration(config)
        getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)()
        n_params = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in model.parameters())
        engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_config)
        dev = engine.device
        audio_tokens = 750  # one 30 s window after the encoder's 4x downsampling
        text = args.seq - audio_tokens - 2
        ids = torch.randint(0, 150000, (args.batch, text), device=dev)
        audio = torch.full((args.batch, audio_tokens), config.audio_token_id, device=dev)
        bos = torch.full((args.batch, 1), config.audio_bos_token_id, device=dev)
        eos = torch.full((args.batch, 1), config.audio_eos_token_id, device=dev)
        input_ids = torch.cat([bos, audio, eos, ids], dim=1)
        batch = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "labels": input_ids.masked_fill(input_ids >= 150000, -100),
            "input_features": torch.randn(args.batch, 128, 3000, device=dev, dtype=torch.bfloat16),
            "input_features_mask": torch.ones(args.batch, 3000, device=dev, dtype=torch.long),
        }
        times = []
        for i in range(args.steps + 1):  # the first step is warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = engine(**batch).loss
            engine.backward(loss)
            engine.step()
            torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - t0)
    step_s = sorted(times)[len(times) // 2]
    tokens_per_s = args.batch * args.seq / step_s
    name = torch.cuda.get_device_name()
    peak = peak_tflops(name)
    return {
        "device": name,
        "lm_layers": layers,
        "parameters_b": round(n_params / 1e9, 3),
        "seq": args.seq,
        "batch": args.batch,
        "step_s_median": round(step_s, 3),
        "tokens_per_s": round(tokens_per_s, 1),
        "mfu": round(6 * n_params * tokens_per_s / (peak * 1e12), 4) if peak else None,
        "loss": round(float(loss.detach()), 4),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1),
    }


def grpo_mid(args) -> dict:
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from musicflamingo.model import build as mb
    from musicflamingo.model import inputs as mi
    from musicflamingo.config import typed
    from musicflamingo.configs import Grpo
    from musicflamingo.train.grpo import AudioGRPO, Prompt

    cfg = OmegaConf.create({
        "vocab_size": 1024, "max_audio_s": 30.0,
        "encoder": {"hidden_size": 512, "layers": 6, "heads": 8, "ffn": 2048, "max_source_positions": 1500, "num_mel_bins": 128},
        "text": {"hidden_size": 1024, "layers": 8, "heads": 16, "kv_heads": 4, "ffn": 4096, "max_position_embeddings": 8192},
    })
    model, processor = mb.build_tiny(cfg, None, seed=0)
    model = model.cuda()
    rng = np.random.default_rng(0)
    prompts = [
        Prompt(mi.prompt_text(processor, f"<sound>\nWhat is the key?\n(A) C major\n(B) G major\n(C) D minor\n(D) A minor\n{i}"),
               (0.1 * rng.standard_normal(16000 * 20)).astype(np.float32), "A", ["C major", "G major", "D minor", "A minor"])
        for i in range(2)
    ]
    trainer = AudioGRPO(model, processor, typed(Grpo, "train.grpo", num_generations=5, max_new_tokens=64))
    steps = [trainer.step(prompts) for _ in range(args.grpo_steps)]
    return {
        "grpo_steps": len(steps),
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "rollouts_per_s_median": round(sorted(s["rollouts_per_s"] for s in steps)[len(steps) // 2], 2),
        "step_s_median": round(sorted(s["step_s"] for s in steps)[len(steps) // 2], 3),
        "kl_last": round(steps[-1]["kl"], 5),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm-layers", type=int, default=0, help="decoder layers (0: as many as fit the free GPU memory, max 28)")
    p.add_argument("--seq", type=int, default=4096, help="tokens per sequence (750 of them audio)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=4, help="timed ZeRO-3 steps after one warm-up step")
    p.add_argument("--grpo-steps", type=int, default=20)
    p.add_argument("--skip-zero3", action="store_true")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to check (run it on a GPU machine: benchmarks/gpu_check.sh)")
        return 0
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    parts = {"grpo_mid": grpo_mid} if args.skip_zero3 else {"zero3_bf16_8b_shape": zero3_step, "grpo_mid": grpo_mid}
    result, failed = {}, []
    for name, part in parts.items():
        # One part failing (a driver or DeepSpeed surprise) must not hide the other's figures.
        t0 = time.perf_counter()
        try:
            result[name] = part(args)
        except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
            traceback.print_exc()
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        result[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(result[name]), flush=True)
        torch.cuda.empty_cache()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
