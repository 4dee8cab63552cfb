"""Training figures of the recipe on the tiny Music Flamingo, measured on this machine.

    .venv/bin/python benchmarks/train_benchmark.py                 # the recipe on the project's data
    .venv/bin/python benchmarks/train_benchmark.py --from-sft models/sft   # reuse the pipeline's SFT model
    .venv/bin/python benchmarks/train_benchmark.py --throughput    # only SFT/GRPO speed on fixture audio
    .venv/bin/python benchmarks/train_benchmark.py --keep /tmp/mf-models  # keep the trained models
    .venv/bin/python benchmarks/train_benchmark.py --hearing [--tasks mcq,open] [--set train.sft.max_steps=160]

Recipe mode (default) trains backbone -> SFT -> cold start -> GRPO with the
stage configs of `params.yaml` (plain Trainer: ZeRO-2 on one rank gives the
same losses, see tests/train/test_train.py) on the pipeline's own datasets under
`--root` (data/mf_skills/{train,heldout,structured}.jsonl and
data/mf_think/train.jsonl, made by `make run`), everything written to a
temporary folder (no MLflow, no repo state touched). It prints:
- the token lengths of MF-Think's replies against the decode budget (a chain
  longer than `max_new_tokens` can never close its tags);
- SFT held-out caption loss vs the backbone and its reduction (target >= 30 %);
- the format reward after cold start on held-out MCQ prompts with greedy
  decoding (target >= 0.9), with accuracy and structured-thinking rewards;
- GRPO mean total reward over its first vs last quarter of steps;
- an ablation table (SFT only, + cold start, + GRPO): held-out MCQ accuracy
  (read as the evaluation reads it) and mean reward, greedy decoding; SFT
  only is asked the plain question (it was never trained to think), the
  others the think/answer instruction;
- SFT tokens/s (non-padding tokens, audio included) and GRPO rollouts/s.
Throughput mode times SFT steps on the pipeline's MF-Skills clips (fixture
clips when there are none): the previous default (one answer per sequence,
batch 2, ZeRO-2), the current default (conf/train/sft.yaml) with the Whisper
tower frozen and cached, and the same with the tower trained end to end
(audio windows/s, answers/s, text tokens/s, all tokens/s), then GRPO steps
with the cached tower. Prints one JSON object (and a
table); numbers vary with machine load, so compare runs made together.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env() -> None:
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))
    os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")
    os.environ["MASTER_ADDR"], os.environ["GLOO_SOCKET_IFNAME"] = "127.0.0.1", "lo"
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def _supervised(cfg, stage: str, model_dir: Path, train: list, heldout: list, root: Path, out: Path, overrides=None, cache_root=None,
                callbacks=None):
    from omegaconf import OmegaConf

    from musicflamingo.train.sft import train_supervised

    cfg = OmegaConf.merge(cfg, {"train": {stage: {"save_steps": 10**6, **(overrides or {})}}})
    return train_supervised(cfg, stage, model_dir, train, heldout, root, out, out.with_name(out.name + "-ckpt"), log=lambda _m: None,
                            cache_root=cache_root, callbacks=callbacks)


def recipe(args) -> dict:
    import torch
    from omegaconf import OmegaConf

    from musicflamingo.model import build as mb
    from musicflamingo.model import freeze, tower_cache
    from musicflamingo.model import inputs as mi
    from musicflamingo.train import data as td
    from musicflamingo.config import typed
    from musicflamingo.configs import Grpo
    from musicflamingo.train.probe import reward_probe
    from musicflamingo.train.stages import grpo_loop, grpo_summary, structured_truths

    data = args.root / "data"
    for f in ("mf_skills/train.jsonl", "mf_skills/heldout.jsonl", "mf_think/train.jsonl"):
        if not (data / f).is_file():
            raise SystemExit(f"missing {data / f}: run the pipeline first (make run) or pass --root")
    params = OmegaConf.load(ROOT / "params.yaml")
    cfg = OmegaConf.create({"seed": int(params.seed), "model": params.model, "deepspeed": params.deepspeed, "train": params.train})
    cfg.train.sft.deepspeed = cfg.train.coldstart.deepspeed = bool(args.deepspeed)
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(args.set or []))  # e.g. train.coldstart.epochs=16
    skills = td.load_records(data / "mf_skills/train.jsonl")
    heldout = td.load_records(data / "mf_skills/heldout.jsonl")
    think = td.load_records(data / "mf_think/train.jsonl")
    mcq_train = [r for r in skills if r.get("task") == "mcq"]
    mcq_heldout = [r for r in heldout if r.get("task") == "mcq"]
    truths = structured_truths(data / "mf_skills")
    audio = mi.AudioLoader(args.root, float(cfg.model.max_audio_s))
    tokens = int(cfg.train.grpo.max_new_tokens)
    result: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    timings: dict = {}
    result["mf_think_reply_tokens"] = reply_lengths(think, args.from_sft or None, cfg, tokens)

    def probe(model_dir: Path, think_prompt: bool = True) -> dict:
        model, processor = mb.load_pretrained(model_dir)
        freeze.cache_frozen_tower(model, args.root / tower_cache.TOWER_CACHE_DIR)  # as the eval stage does
        t0, c0 = time.perf_counter(), time.process_time()
        out = reward_probe(model, processor, mcq_heldout, audio, tokens, truths, weights=typed(Grpo, "train.grpo").reward_weights, think=think_prompt)
        # what one eval pass (checkpoint x condition) over the held-out MCQs costs
        out["decode_s"], out["decode_cpu_s"] = round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1)
        out["new_tokens_mean"] = round(sum(len(processor.tokenizer(t)["input_ids"]) for t in out.pop("texts")) / max(out["n"], 1), 1)
        return out

    with (contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="mf-bench-")) as tmp:
        tmp = Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        c0 = time.process_time()
        if args.from_sft:
            # Reuse an SFT checkpoint (e.g. the pipeline's models/sft) and measure its losses against the backbone.
            from musicflamingo.train.sft import heldout_losses

            sft_dir = args.from_sft
            eval_bs = int(cfg.train.sft.per_device_batch_size)
            caption = [r for r in heldout if r.get("task") == "caption"]
            losses = {}
            for name, folder in (("backbone", args.from_sft.parent / "backbone"), ("sft", sft_dir)):
                model, processor = mb.load_pretrained(folder)
                losses[name] = heldout_losses(model, processor, caption, audio, int(cfg.train.sft.max_length), eval_bs)["heldout_loss"]
            before, after, sft = losses["backbone"], losses["sft"], {"tokens_per_s": None, "steps": None}
        else:
            if args.backbone:  # the pipeline's backbone (ASR-enhanced), copied so nothing under it changes
                shutil.copytree(args.backbone, tmp / "backbone", dirs_exist_ok=True)
            else:
                mb.build_tiny(cfg.model, tmp / "backbone", seed=int(cfg.seed))
            sft = _supervised(cfg, "sft", tmp / "backbone", skills, heldout, args.root, tmp / "sft")
            sft_dir = tmp / "sft"
            before, after = sft["heldout_loss_caption_initial"], sft["heldout_loss_caption"]
        timings["sft_s"] = round(time.perf_counter() - t0, 1)
        timings["sft_cpu_s"] = round(time.process_time() - c0, 1)
        result["sft"] = {
            "from": str(sft_dir) if args.from_sft else "trained here",
            "heldout_caption_loss_backbone": round(before, 4),
            "heldout_caption_loss_sft": round(after, 4),
            "caption_loss_reduction_pct": round(100 * (before - after) / before, 1),
            "tokens_per_s": sft["tokens_per_s"],
            "steps": sft["steps"],
        }
        if args.only_sft:
            result["timings"] = timings
            return result
        t0, c1 = time.perf_counter(), time.process_time()
        if args.from_coldstart:  # reuse a cold-start model (e.g. the pipeline's models/coldstart)
            cs_dir = args.from_coldstart
            result["coldstart"] = {"from": str(cs_dir)}
        else:
            cs_dir = tmp / "coldstart"
            cs = _supervised(cfg, "coldstart", sft_dir, think, [], args.root, cs_dir)
            result["coldstart"] = {k: cs[k] for k in ("steps", "train_loss", "tokens_per_s", "best_epoch", "epochs_run", "validation_records", "validation_curve") if k in cs}
        timings["coldstart_s"] = round(time.perf_counter() - t0, 1)
        timings["coldstart_cpu_s"] = round(time.process_time() - c1, 1)
        result["coldstart_probe"] = probe(cs_dir)

        t0, c2 = time.perf_counter(), time.process_time()
        torch.manual_seed(int(cfg.seed))
        policy, processor = mb.load_pretrained(cs_dir)
        freeze.prepare(policy, {"trainable": cfg.train.grpo.get("trainable")}, args.root / tower_cache.TOWER_CACHE_DIR)
        history, _, probes = grpo_loop(cfg.train.grpo, policy, processor, mcq_train, audio, truths, int(cfg.seed))
        mb.save(policy, processor, tmp / "grpo")
        timings["grpo_s"] = round(time.perf_counter() - t0, 1)
        timings["grpo_cpu_s"] = round(time.process_time() - c2, 1)
        result["grpo"] = {**grpo_summary(history, probes), "reward_per_step": [round(h["reward"], 3) for h in history],
                          "probes": [{k: round(v, 4) for k, v in p.items()} for p in probes],
                          "components_by_quarter": quarters(history)}

        sft_probe = probe(sft_dir, think_prompt=False)
        grpo_probe = probe(tmp / "grpo")
        result["ablation"] = {
            "sft_only": {k: sft_probe[k] for k in ("mcq_accuracy", "reward", "format", "accuracy", "structured")},
            "+coldstart": {k: result["coldstart_probe"][k] for k in ("mcq_accuracy", "reward", "format", "accuracy", "structured")},
            "+grpo": {k: grpo_probe[k] for k in ("mcq_accuracy", "reward", "format", "accuracy", "structured")},
            "heldout_mcq_items": len(mcq_heldout),
        }
    result["timings"] = timings
    return result


def quarters(history: list[dict]) -> dict:
    """Mean of each reward component over each quarter of the GRPO steps (what moved, and what did not)."""
    import numpy as np

    parts = [part for part in np.array_split(np.arange(len(history)), 4) if len(part)]
    keys = [k for k in history[0] if k.startswith("reward") and k != "reward_std"]
    return {k: [round(float(np.mean([history[i][k] for i in part])), 4) for part in parts] for k in keys}


def reply_lengths(records: list[dict], model_dir: Path | None, cfg, budget: int) -> dict:
    """Token lengths of the replies (tags included) with the model's tokenizer, against `budget`."""
    import numpy as np

    from musicflamingo.model import build as mb
    from musicflamingo.model import inputs as mi

    tok = (mb.load_pretrained(model_dir)[1] if model_dir else mb.build_tiny(cfg.model, None, seed=0)[1]).tokenizer
    n = np.array([len(tok(mi.gpt_turn(r), add_special_tokens=False)["input_ids"]) for r in records])
    return {
        "n": len(n), "min": int(n.min()), "median": float(np.median(n)), "p90": float(np.percentile(n, 90)),
        "max": int(n.max()), "budget": budget, "over_budget": int((n > budget).sum()),
    }


def print_recipe(r: dict) -> None:
    s = r["sft"]
    sft_line = (f"SFT held-out caption loss: backbone {s['heldout_caption_loss_backbone']:.3f} -> sft {s['heldout_caption_loss_sft']:.3f} "
                f"({s['caption_loss_reduction_pct']:.1f} % lower; target >= 30 %); tokens/s {s['tokens_per_s']}, {s['steps']} steps")
    if "coldstart_probe" not in r:  # --only-sft
        print(sft_line)
        return
    c, g = r["coldstart_probe"], r["grpo"]
    t = r["mf_think_reply_tokens"]
    print(f"MF-Think reply tokens (n={t['n']}): min {t['min']}, median {t['median']:.0f}, p90 {t['p90']:.0f}, max {t['max']}; "
          f"{t['over_budget']} over the decode budget of {t['budget']}")
    print(sft_line)
    print(f"Format reward after cold start (held-out MCQ, greedy, n={c['n']}): {c['format']:.3f} (target >= 0.9); "
          f"accuracy {c['accuracy']:.3f}, structured {c['structured']:.3f}")
    cs = r.get("coldstart", {})
    if cs.get("validation_curve"):
        curve = ", ".join(f"{v['epoch']:g}: {v.get('probe_format', 0):.2f}/{v.get('probe_reward', 0):.2f}" for v in cs["validation_curve"])
        print(f"  cold start kept epoch {cs['best_epoch']} of {cs['epochs_run']:g} ({cs['steps']} steps); "
              f"validation probe format/reward by epoch (n={cs['validation_records']}): {curve}")
    print(f"GRPO mean total reward: first quarter {g['reward_start']:.3f} -> last quarter {g['reward_end']:.3f} "
          f"({g['steps']} steps, run mean {g['reward_mean']:.3f}, KL last {g['kl_last']:.4f})")
    if "probe_reward_start" in g:
        by_step = ", ".join(f"{p['step']:g}: {p['probe_reward']:.3f}" for p in g["probes"])
        print(f"GRPO mean total reward on the fixed probe prompts: before {g['probe_reward_start']:.3f} -> after {g['probe_reward_end']:.3f} "
              f"(by step: {by_step})")
    print(f"\n{'model':<12} {'MCQ acc':>8} {'reward':>7} {'format':>7} {'acc@ans':>8} {'struct':>7}")
    for name, row in r["ablation"].items():
        if isinstance(row, dict):
            print(f"{name:<12} {row['mcq_accuracy']:>8.3f} {row['reward']:>7.3f} {row['format']:>7.3f} {row['accuracy']:>8.3f} {row['structured']:>7.3f}")
    print(f"(held-out MCQ items: {r['ablation']['heldout_mcq_items']}; chance 0.25)\n")
    print(f"SFT tokens/s: {s['tokens_per_s']} (None: SFT reused; see --throughput)   GRPO rollouts/s: {g['rollouts_per_s']}")


def _seen(records: list[dict], cfg, processor, audio, stage_cfg) -> dict:
    """Mean audio windows, audio tokens and text tokens per training item, as the stage builds its
    items (mixture weights, option-text copies, packing) and encodes them."""
    import numpy as np

    from musicflamingo.model import inputs as mi
    from musicflamingo.train import data as td

    items = td.weight_tasks(records, stage_cfg.get("task_weights"), int(cfg.seed))
    items = td.pack_turns(items, int(stage_cfg.pack_turns), int(stage_cfg.max_length), processor.tokenizer, int(cfg.seed))
    ds = td.ConversationDataset(items, processor, audio, int(stage_cfg.max_length))
    audio_ids = set(processor.audio_token_ids)
    rows = [ds[i] for i in range(min(len(ds), 64))]
    n_audio = [sum(int(t) in audio_ids for t in x["input_ids"]) for x in rows]
    return {"items": len(items), "windows": float(np.mean([x["input_features"].shape[0] for x in rows])),
            "audio": float(np.mean(n_audio)), "text": float(np.mean([len(x["input_ids"]) - a for x, a in zip(rows, n_audio)])),
            "answers": float(np.mean([len(td.turns_of(r)) for r in items]))}


class _StepTimer:
    """(wall s, CPU s) at the end of every optimizer step, as a TrainerCallback."""

    def __new__(cls):
        from transformers import TrainerCallback

        class Timer(TrainerCallback):
            def __init__(self):
                self.ends: list[tuple[float, float]] = []

            def on_step_end(self, args, state, control, **kwargs):
                self.ends.append((time.perf_counter(), time.process_time()))

        return Timer()


def throughput(args) -> dict:
    """SFT speed of the tiny profile, side by side in one run: the previous default (one answer per
    sequence, batch 2, ZeRO-2 on one CPU rank), the current default (conf/train/sft.yaml: turns
    about one clip packed, larger batches) with the Whisper tower frozen and cached, and the same
    with the tower trained end to end; then GRPO steps with the cached tower. Uses the pipeline's
    data/mf_skills/train.jsonl under --root when it exists (fixture clips otherwise)."""
    import torch
    from omegaconf import OmegaConf

    from musicflamingo.model import build as mb
    from musicflamingo.model import freeze
    from musicflamingo.model import inputs as mi
    from musicflamingo.model import tower_cache
    from musicflamingo.testing.fixtures import THINK_INSTRUCTION, write_fixture
    from musicflamingo.train import data as td
    from musicflamingo.config import typed
    from musicflamingo.configs import Grpo
    from musicflamingo.train.grpo import AudioGRPO
    from musicflamingo.train.stages import grpo_prompts

    params = OmegaConf.load(ROOT / "params.yaml")
    result: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "steps": args.steps}
    with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
        tmp = Path(tmp)
        real = args.root / "data/mf_skills/train.jsonl"
        if real.is_file():
            root, train_file = args.root, real
            # a copy of the project's tower cache: the cold-cache row must not warm the real one
            src = args.root / tower_cache.TOWER_CACHE_DIR
            cache_root = tmp / "cache-root"
            if src.is_dir():
                shutil.copytree(src, cache_root / tower_cache.TOWER_CACHE_DIR)
        else:
            root = cache_root = tmp
            train_file = write_fixture(root, n_tracks=4, seconds=30.0)["train"]
        result["data"] = str(train_file)
        model, processor = mb.build_tiny(params.model, tmp / "models/backbone", seed=0)
        count = lambda part: sum(x.numel() for x in part.parameters())  # noqa: E731
        result["parameters"] = {"total": count(model), "audio_tower": count(model.model.audio_tower),
                                "projector": count(model.model.multi_modal_projector),
                                "language_model": count(model.model.language_model) + count(model.lm_head)}
        records = td.load_records(train_file)
        audio = mi.AudioLoader(root, float(params.model.max_audio_s), capacity=128)
        cfg = OmegaConf.create({"seed": 0, "model": params.model, "deepspeed": params.deepspeed, "train": {"sft": params.train.sft}})
        base = {"max_steps": args.steps, "epochs": 100, "logging_steps": 10**6, "select_best": {"enabled": False}}
        before = {"pack_turns": 1, "per_device_batch_size": 2, "deepspeed": True, "group_by_length": True}
        runs = [("before_frozen_cached", before, False), ("frozen_cached", {}, False), ("unfrozen", {}, True)]
        for key, over, tower_trains in runs:
            trainable = {"audio_tower": tower_trains, "projector": True, "language_model": True}
            stage = OmegaConf.merge(cfg.train.sft, {**base, **over, "trainable": trainable})
            seen = _seen(records, cfg, processor, audio, stage)
            timer = _StepTimer()
            s = _supervised(cfg, "sft", tmp / "models/backbone", records, [], root, tmp / f"out-{key}", OmegaConf.to_container(stage),
                            cache_root=cache_root, callbacks=[timer])
            # steps 2..n only (the first one encodes cold windows and warms the allocator); CPU seconds
            # too: on a shared machine wall time also measures the other processes
            n = args.steps - 1
            dt, cpu = timer.ends[-1][0] - timer.ends[0][0], timer.ends[-1][1] - timer.ends[0][1]
            batch = int(stage.per_device_batch_size)
            items_per_s, items_per_cpu_s = n * batch / dt, n * batch / cpu
            result[key] = {"s_per_step": round(dt / n, 3), "cpu_s_per_step": round(cpu / n, 3),
                           "batch": batch, "pack_turns": int(stage.pack_turns), "deepspeed": bool(stage.deepspeed),
                           "answers_per_item": round(seen["answers"], 2), "audio_tokens_per_item": round(seen["audio"], 1),
                           "text_tokens_per_item": round(seen["text"], 1),
                           "audio_windows_per_s": round(items_per_s * seen["windows"], 2),
                           "answers_per_s": round(items_per_s * seen["answers"], 2),
                           "text_tokens_per_s": round(items_per_s * seen["text"], 1),
                           "text_tokens_per_cpu_s": round(items_per_cpu_s * seen["text"], 1),
                           "all_tokens_per_s": round(items_per_s * (seen["text"] + seen["audio"]), 1),
                           "trainer_tokens_per_s": s["tokens_per_s"]}
        # GRPO with the default frozen, cached tower
        freeze.prepare(model, {"trainable": {"audio_tower": False}}, cache_root / tower_cache.TOWER_CACHE_DIR)
        prompts = grpo_prompts(td.load_records(train_file, task="mcq")[:2], processor, audio, THINK_INSTRUCTION)
        trainer = AudioGRPO(model, processor, typed(Grpo, "train.grpo", num_generations=5, max_new_tokens=24))
        torch.manual_seed(0)
        steps = [trainer.step(prompts) for _ in range(args.steps)]
        result["grpo_s_per_step"] = round(sorted(s["step_s"] for s in steps)[len(steps) // 2], 4)
        result["grpo_rollouts_per_s"] = round(sorted(s["rollouts_per_s"] for s in steps)[len(steps) // 2], 3)
    return result


def print_throughput(r: dict) -> None:
    print(f"\nparameters: {r['parameters']}; data: {r['data']}")
    cols = ("s/step", "CPU s/step", "batch", "answers/item", "windows/s", "answers/s", "text tok/s", "text tok/CPU-s", "all tok/s")
    print(f"{'SFT (' + str(r['steps']) + ' steps)':<22} " + " ".join(f"{c:>14}" for c in cols))
    for key in ("before_frozen_cached", "frozen_cached", "unfrozen"):
        x = r[key]
        vals = (x["s_per_step"], x["cpu_s_per_step"], x["batch"], x["answers_per_item"], x["audio_windows_per_s"], x["answers_per_s"],
                x["text_tokens_per_s"], x["text_tokens_per_cpu_s"], x["all_tokens_per_s"])
        print(f"{key:<22} " + " ".join(f"{v:>14}" for v in vals))
    b, f, u = r["before_frozen_cached"], r["frozen_cached"], r["unfrozen"]
    print(f"text tokens/s: current default {f['text_tokens_per_s'] / b['text_tokens_per_s']:.1f}x the previous default "
          f"({f['text_tokens_per_cpu_s'] / b['text_tokens_per_cpu_s']:.1f}x per CPU-s); frozen+cached vs unfrozen "
          f"{f['text_tokens_per_s'] / u['text_tokens_per_s']:.1f}x; GRPO {r['grpo_s_per_step']} s/step, {r['grpo_rollouts_per_s']} rollouts/s")


def hearing(args) -> dict:
    """Does SFT make the model use the audio? Trains SFT with the stage config (and --set overrides)
    on the pipeline's MF-Skills train split (--tasks filters it), then scores every held-out MCQ by
    the letter the model puts after "(" (argmax of the A-D logits after the assistant header and
    "(": one forward pass per item, a cheap stand-in for greedy decoding) with the audio, with as
    many zero samples (silence), and with another held-out track's audio (`evaluation.stage.
    other_track_audio`), per skill family with 95 % Wilson intervals."""
    import collections

    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from musicflamingo.evaluation.mcq import wilson_ci
    from musicflamingo.evaluation.stage import other_track_audio
    from musicflamingo.model import build as mb
    from musicflamingo.model import freeze, tower_cache
    from musicflamingo.model import inputs as mi
    from musicflamingo.train import data as td

    data = args.root / "data/mf_skills"
    params = OmegaConf.load(ROOT / "params.yaml")
    cfg = OmegaConf.create({"seed": int(params.seed), "model": params.model, "deepspeed": params.deepspeed, "train": {"sft": params.train.sft}})
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(args.set or []))
    train = td.load_records(data / "train.jsonl")
    if args.tasks:
        train = [r for r in train if r.get("task") in args.tasks.split(",")]
    held = [r for r in td.load_records(data / "heldout.jsonl") if r.get("task") == "mcq"]
    result: dict = {"train_records": len(train), "heldout_mcq": len(held)}
    with tempfile.TemporaryDirectory(prefix="mf-hear-") as tmp:
        tmp = Path(tmp)
        mb.build_tiny(cfg.model, tmp / "backbone", seed=int(cfg.seed))
        t0, c0 = time.perf_counter(), time.process_time()
        s = _supervised(cfg, "sft", tmp / "backbone", train, [], args.root, tmp / "sft")
        result["sft"] = {"steps": s["steps"], "train_loss": s["train_loss"], "s": round(time.perf_counter() - t0), "cpu_s": round(time.process_time() - c0)}
        model, processor = mb.load_pretrained(tmp / "sft")
    model.eval()
    freeze.cache_frozen_tower(model, args.root / tower_cache.TOWER_CACHE_DIR)
    audio = mi.AudioLoader(args.root, float(cfg.model.max_audio_s), capacity=128)
    letters = [processor.tokenizer("(" + c, add_special_tokens=False)["input_ids"][-1] for c in "ABCD"]
    others = other_track_audio(held)
    for cond in ("audio", "silence", "other_track"):
        rows = []
        for start in range(0, len(held), 8):
            chunk = held[start : start + 8]
            wavs = [audio(r["sound"]) for r in chunk]
            if cond == "silence":
                wavs = [np.zeros_like(w) for w in wavs]
            elif cond == "other_track":
                wavs = [audio(others.get(r.get("track_id") or r["sound"], r["sound"])) for r in chunk]
            batch = mi.encode_prompts(processor, [mi.prompt_text(processor, mi.human_turn(r)) + "(" for r in chunk], wavs)
            with torch.no_grad():
                logits = model(**mi.model_inputs(batch), logits_to_keep=1).logits[:, -1, letters]
            rows += [(r["skill"], "ABCD"[int(i)], r["answer_letter"]) for r, i in zip(chunk, logits.argmax(-1))]
        fams = collections.defaultdict(list)
        for skill, got, want in rows:
            fams[skill].append(got == want)
            fams["all"].append(got == want)
        result[cond] = {f: {"accuracy": round(float(np.mean(v)), 3), "ci95": wilson_ci(sum(v), len(v)), "n": len(v)} for f, v in sorted(fams.items())}
        result[cond]["letters"] = dict(collections.Counter(g for _, g, _ in rows))
    return result


def print_hearing(r: dict) -> None:
    print(f"\nSFT: {r['sft']}; {r['train_records']} training records, {r['heldout_mcq']} held-out MCQs (chance 0.25)")
    print(f"{'family':<12} " + " ".join(f"{c:>22}" for c in ("audio", "silence", "other_track")) + "  audio - best control, separated")
    for fam in r["audio"]:
        if fam == "letters":
            continue
        cells = [r[c][fam] for c in ("audio", "silence", "other_track")]
        best = max(cells[1:], key=lambda x: x["accuracy"])
        sep = cells[0]["ci95"][0] > best["ci95"][1]
        print(f"{fam:<12} " + " ".join(f"{x['accuracy']:.3f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}] n={x['n']:<3}" for x in cells)
              + f"  {cells[0]['accuracy'] - best['accuracy']:+.3f} {'yes' if sep else 'no'}")
    print("letters chosen:", {c: r[c]["letters"] for c in ("audio", "silence", "other_track")})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=ROOT, help="project root whose data/ holds the pipeline's datasets")
    p.add_argument("--from-sft", type=Path, help="start from this SFT checkpoint (its sibling backbone/ is the baseline) instead of training SFT")
    p.add_argument("--backbone", type=Path, help="recipe mode: start SFT from this backbone folder (e.g. models/backbone) instead of a freshly built tiny one")
    p.add_argument("--throughput", action="store_true", help="only time SFT and GRPO steps on fixture audio")
    p.add_argument("--steps", type=int, default=5, help="steps per timing in --throughput mode (the first is not timed; >= 2)")
    p.add_argument("--hearing", action="store_true", help="train SFT, then held-out MCQ accuracy per family with the audio vs silence vs another track")
    p.add_argument("--tasks", help="--hearing: train only on these tasks, e.g. mcq,open")
    p.add_argument("--deepspeed", action="store_true", help="SFT/cold start under ZeRO-2 (one gloo rank on loopback)")
    p.add_argument("--from-coldstart", type=Path, help="recipe mode, with --from-sft: start GRPO from this cold-start model instead of training one")
    p.add_argument("--only-sft", action="store_true", help="recipe mode: stop after SFT (its caption-loss figure and tokens/s)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a params.yaml value for this run, e.g. --set train.coldstart.epochs=16 (repeatable)")
    p.add_argument("--keep", type=Path, help="recipe mode: write the trained models here (kept) instead of a temporary folder")
    args = p.parse_args(argv)
    if args.throughput and args.steps < 2:
        p.error("--steps must be >= 2 (the first step is not timed)")
    if args.from_coldstart and not args.from_sft:
        p.error("--from-coldstart needs --from-sft (the SFT-only row of the ablation)")
    _env()
    result = throughput(args) if args.throughput else hearing(args) if args.hearing else recipe(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.throughput:
        print_throughput(result)
    elif args.hearing:
        print_hearing(result)
    else:
        print()
        print_recipe(result)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
