"""Throughput of the training code on the tiny Music Flamingo, on synthetic fixture audio.

    .venv/bin/python benchmarks/train_benchmark.py [--steps 5] [--deepspeed] [--out bench.json]

Measures, on this machine, with everything under a temporary folder (no
MLflow, no repo state touched):
- `sft_plain_s_per_step`: wall time of a `train_supervised` run (batch 2,
  Trainer set-up included) divided by its steps, without DeepSpeed;
- `sft_zero2_s_per_step` (with --deepspeed): the same under ZeRO-2 on one
  gloo process (the first run JIT-builds DeepSpeed's shm_comm op; the folder
  is TORCH_EXTENSIONS_DIR, default .cache/torch_extensions);
- `grpo_s_per_step` and `grpo_rollouts_per_s`: AudioGRPO steps with
  2 prompts x G=4 samples of 24 tokens;
- `generate_s`: greedy decoding of 24 tokens for one prompt.
Step times include data encoding (features are computed per item). Prints
one JSON object; numbers vary with machine load, so compare runs made on
the same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sft(cfg, root: Path, paths: dict, deepspeed: bool, steps: int) -> float:
    from omegaconf import OmegaConf

    from musicflamingo.train import data as td
    from musicflamingo.train.sft import train_supervised

    cfg = OmegaConf.merge(
        cfg,
        {
            "train": {
                "sft": {
                    "deepspeed": deepspeed,
                    "max_steps": steps,
                    "epochs": 100,
                    "save_steps": 10**6,
                    "logging_steps": 10**6,
                }
            }
        },
    )
    t0 = time.perf_counter()
    summary = train_supervised(
        cfg,
        "sft",
        root / "models/backbone",
        td.load_records(paths["train"]),
        [],
        root,
        root / f"out-{deepspeed}",
        root / f"ckpt-{deepspeed}",
        log=lambda _m: None,
    )
    elapsed = time.perf_counter() - t0
    assert summary["steps"] == steps
    return elapsed / steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--deepspeed", action="store_true", help="also time ZeRO-2 (CPU, one gloo process on loopback)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)

    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))
    os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")
    os.environ["MASTER_ADDR"], os.environ["GLOO_SOCKET_IFNAME"] = "127.0.0.1", "lo"
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

    import torch
    from omegaconf import OmegaConf

    from musicflamingo.model import build as mb
    from musicflamingo.model import inputs as mi
    from musicflamingo.model.fixtures import THINK_INSTRUCTION, write_fixture
    from musicflamingo.train import data as td
    from musicflamingo.train.grpo import AudioGRPO, GRPOSettings
    from musicflamingo.train.stages import grpo_prompts

    params = OmegaConf.load(ROOT / "params.yaml")
    result: dict = {
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
    }
    with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
        root = Path(tmp)
        paths = write_fixture(root, n_tracks=4, seconds=10.0)
        model, processor = mb.build_tiny(params.model, root / "models/backbone", seed=0)
        result["parameters"] = sum(x.numel() for x in model.parameters())

        cfg = OmegaConf.create(
            {
                "seed": 0,
                "model": params.model,
                "deepspeed": params.deepspeed,
                "train": {"sft": OmegaConf.merge(params.train.sft, {"per_device_batch_size": 2})},
            }
        )
        result["sft_plain_s_per_step"] = round(_sft(cfg, root, paths, False, args.steps), 4)
        if args.deepspeed:
            result["sft_zero2_s_per_step"] = round(_sft(cfg, root, paths, True, args.steps), 4)

        audio = mi.AudioLoader(root, float(params.model.max_audio_s))
        records = td.load_records(paths["train"], task="mcq")
        prompts = grpo_prompts(records[:2], processor, audio, THINK_INSTRUCTION)
        model.eval()
        batch = mi.encode_prompts(processor, [prompts[0].text], [prompts[0].audio])
        mi.generate(model, processor, batch, max_new_tokens=4)  # warm-up
        t0 = time.perf_counter()
        mi.generate(model, processor, batch, max_new_tokens=24)
        result["generate_s"] = round(time.perf_counter() - t0, 4)

        trainer = AudioGRPO(model, processor, GRPOSettings(num_generations=4, max_new_tokens=24))
        torch.manual_seed(0)
        steps = [trainer.step(prompts) for _ in range(args.steps)]
        result["grpo_s_per_step"] = round(sum(s["step_s"] for s in steps) / len(steps), 4)
        result["grpo_rollouts_per_s"] = round(sum(s["rollouts_per_s"] for s in steps) / len(steps), 3)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
