"""Stage entry points for training: `run_sft`, `run_coldstart`, `run_grpo`.

Each takes `(cfg, ctx)`, trains from the upstream stage's model folder, saves
model + processor to `ctx.out`, registers it in MLflow as a `music-flamingo`
version with the stage's name as alias, and returns a small JSON summary.
Everything is logged inside one MLflow run opened by `tracking.stage_run`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from musicflamingo import registry, tracking
from musicflamingo.model import build as mb
from musicflamingo.model import freeze
from musicflamingo.model import inputs as mi
from musicflamingo.model import tower_cache
from musicflamingo.train import data as td
from musicflamingo.configs import Grpo, parse
from musicflamingo.train.grpo import AudioGRPO, Prompt
from musicflamingo.think_answer import with_instruction
from musicflamingo.train.sft import run_key, train_supervised

SKILLS = "mf_skills"


def skills_dir(ctx) -> Path:
    """MF-Skills' folder (its held-out split measures every checkpoint).

    `coldstart` does not declare mf_skills as a dependency in the registry, so
    it is read from its registry location and the gap is logged, not hidden.
    """
    try:
        return ctx.input(SKILLS)
    except KeyError:
        ctx.log(f"{ctx.stage.name} reads {SKILLS}/heldout.jsonl without declaring {SKILLS} as a dependency")
        return ctx.root / registry.get(SKILLS).out


def think_instruction() -> str:
    from musicflamingo.think_answer import THINK_INSTRUCTION

    return THINK_INSTRUCTION


def _supervised(cfg, ctx, stage_name: str, model_stage: str) -> dict:
    import mlflow

    stage_cfg = cfg.train[stage_name]
    train_file = ctx.input(str(stage_cfg.data)) / "train.jsonl"
    train_records = td.load_records(train_file)
    heldout_records = td.load_records(skills_dir(ctx) / "heldout.jsonl")
    model_dir = ctx.input(model_stage)
    ckpt = ctx.cache_dir / f"run-{run_key(stage_cfg, cfg.deepspeed, int(cfg.seed), train_file, model_dir)}"
    with tracking.stage_run(ctx, cfg) as run:
        mlflow.log_params(
            {
                "mf.data.train_records": len(train_records),
                "mf.data.heldout_records": len(heldout_records),
                "mf.data.train_file": str(train_file.relative_to(ctx.root)),
            }
        )
        summary = train_supervised(
            cfg, stage_name, model_dir, train_records, heldout_records, ctx.root, ctx.out, ckpt, log=ctx.log
        )
        probe_tokens = int(stage_cfg.get("probe_max_new_tokens", 0) or 0)
        mcq = [r for r in heldout_records if r.get("task") == "mcq"]
        if probe_tokens > 0 and mcq:
            # Greedy think/answer decoding on held-out MCQs: GRPO only learns from a model
            # that already closes its tags, so the format rate is measured here.
            from musicflamingo.train.probe import reward_probe

            model, processor = mb.load_pretrained(ctx.out)
            audio = mi.AudioLoader(ctx.root, float(cfg.model.max_audio_s))
            truths = structured_truths(skills_dir(ctx))
            probe = reward_probe(model, processor, mcq, audio, probe_tokens, truths, weights=cfg.train.grpo.reward_weights)
            texts = probe.pop("texts")
            mlflow.log_metrics({f"heldout_greedy_{k}": v for k, v in probe.items() if k != "n"})
            mlflow.log_text("\n".join(json.dumps({"id": r["id"], "completion": t}) for r, t in zip(mcq, texts)) + "\n", "probe/heldout_completions.jsonl")
            summary.update({f"heldout_greedy_{k}": v for k, v in probe.items()})
            ctx.log(f"held-out greedy think/answer probe: {probe}")
        summary["model_version"] = tracking.register(run.info.run_id, ctx.out, alias=stage_name, root=ctx.root)
        summary["mlflow_run_id"] = run.info.run_id
    return summary


def run_sft(cfg, ctx) -> dict:
    """Full fine-tune of the backbone on MF-Skills (captions + QA)."""
    return _supervised(cfg, ctx, "sft", "backbone")


def run_coldstart(cfg, ctx) -> dict:
    """Chain-of-thought cold start of the SFT model on MF-Think."""
    return _supervised(cfg, ctx, "coldstart", "sft")


def grpo_prompts(
    records: list[dict], processor, audio: mi.AudioLoader, instruction: str, truths: dict[str, dict] | None = None
) -> list[Prompt]:
    """GRPO prompts from MCQ records: the question plus the think/answer instruction.

    `truths` maps track_id -> structured ground truth (for the structured-thinking reward).
    """
    out = []
    for r in records:
        human = with_instruction(mi.human_turn(r), instruction)
        truth = (truths or {}).get(r.get("track_id", ""))
        out.append(
            Prompt(
                mi.prompt_text(processor, human),
                audio(r["sound"]),
                r["answer_letter"],
                list(r["options"]),
                r["id"],
                truth,
            )
        )
    return out


def structured_truths(folder: Path) -> dict[str, dict]:
    """track_id -> structured ground truth from `mf_skills/structured.jsonl` ({} when absent)."""
    path = Path(folder) / "structured.jsonl"
    return {r["track_id"]: r["truth"] for r in td.load_records(path)} if path.is_file() else {}


def reward_curve_png(history: list[dict], path: Path, probes: list[dict] = ()) -> Path:
    """Mean total reward and each component per GRPO step, with a moving average, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(range(1, len(history) + 1))
    fig, ax = plt.subplots(figsize=(7, 4))
    total = [h["reward"] for h in history]
    ax.plot(steps, total, "o-", color="black", lw=1, ms=3, label="total")
    k = max(1, len(total) // 5)
    smooth = [sum(total[max(0, i - k + 1) : i + 1]) / len(total[max(0, i - k + 1) : i + 1]) for i in range(len(total))]
    ax.plot(steps, smooth, color="black", lw=2.5, alpha=0.4, label=f"total, mean of last {k}")
    for key in sorted(x for x in history[0] if x.startswith("reward_") and x != "reward_std"):
        ax.plot(steps, [h[key] for h in history], lw=1, label=key.removeprefix("reward_"))
    if probes:
        ax.plot([p["step"] for p in probes], [p["probe_reward"] for p in probes], "s--", color="tab:red", lw=2, label="total on fixed probe prompts")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean reward over the step's rollouts")
    ax.set_title("GRPO reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def grpo_loop(g, policy, processor, records: list[dict], audio: mi.AudioLoader, truths: dict, seed: int, on_step=None):
    """`g.steps` AudioGRPO steps over reshuffled epochs of `records` (MCQ items).

    Returns `(history, samples, probes)`: the metrics of every step, every rollout
    (step, id, completion, reward and its components) and the fixed-prompt reward
    probes (see `fixed_prompt_probe`; [] when off). `on_step(step, metrics)` is called
    after each step (logging).
    """
    settings = parse(Grpo, g, "train.grpo")
    trainer = AudioGRPO(policy, processor, settings)
    rng = random.Random(int(seed))
    order: list[dict] = []
    history: list[dict] = []
    samples: list[dict] = []
    instruction = think_instruction()
    probe = fixed_prompt_probe(g, trainer, processor, records, audio, instruction, truths, seed)
    probes = [probe(0)] if probe is not None else []
    for step in tqdm(range(1, int(g.steps) + 1), desc="grpo", unit="step", disable=None):
        chosen = []
        for _ in range(int(g.prompts_per_step)):
            if not order:  # epochs over a reshuffled prompt set
                order = rng.sample(records, len(records))
            chosen.append(order.pop())
        prompts = grpo_prompts(chosen, processor, audio, instruction, truths)
        metrics = trainer.step(prompts)
        history.append(metrics)
        r = trainer.last_rollout
        for i, text in enumerate(r.texts):
            sample = {"step": step, "id": prompts[i // settings.num_generations].id, "completion": text}
            sample.update(reward=float(r.rewards[i]), **{k: v[i] for k, v in r.parts.items()})
            samples.append(sample)
        if probe is not None and (step % probe.every == 0 or step == int(g.steps)):
            probes.append(probe(step))
        if on_step is not None:
            on_step(step, metrics)
    return history, samples, probes


def fixed_prompt_probe(g, trainer: AudioGRPO, processor, records, audio, instruction, truths, seed: int):
    """Mean sampled reward on a fixed set of training prompts, or None when `reward_probe.prompts` is 0.

    Each step's own reward mixes learning with how hard that step's prompts are;
    the same prompts, sampled with the same seed, isolate the learning. The RNG
    is forked so the probe does not change the training's samples.
    """
    n = min(int(g.reward_probe.prompts), len(records))
    if n == 0:
        return None
    prompts = grpo_prompts(random.Random(int(seed) + 1).sample(records, n), processor, audio, instruction, truths)

    def run(step: int) -> dict:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            r = trainer.rollout(prompts)
        return {"step": step, "probe_reward": float(r.rewards.mean()), **{f"probe_reward_{k}": float(np.mean(v)) for k, v in r.parts.items()}}

    run.every = int(g.reward_probe.every)
    return run


def grpo_summary(history: list[dict], probes: list[dict] = ()) -> dict:
    """Means over the run, and its trend: mean total reward over the first and last quarter of steps,
    and on the fixed probe prompts before and after training."""

    def mean(key: str, rows=history) -> float:
        return round(float(np.mean([h[key] for h in rows])), 4)

    quarter = max(1, len(history) // 4)
    trend = {"probe_reward_start": round(probes[0]["probe_reward"], 4), "probe_reward_end": round(probes[-1]["probe_reward"], 4)} if probes else {}
    return {
        "steps": len(history),
        **trend,
        "reward_mean": mean("reward"),
        "reward_start": mean("reward", history[:quarter]),
        "reward_end": mean("reward", history[-quarter:]),
        **{f"{k}_mean": mean(k) for k in history[0] if k.startswith("reward_") and k != "reward_std"},
        "kl_last": round(history[-1]["kl"], 6),
        "clip_frac_mean": mean("clip_frac"),
        "loss_last": round(history[-1]["loss"], 6),
        "rollouts_per_s": mean("rollouts_per_s"),
    }


def run_grpo(cfg, ctx) -> dict:
    """Audio-aware GRPO from the cold-start model on MF-Skills' MCQ items."""
    import mlflow

    g = cfg.train.grpo
    torch.manual_seed(int(cfg.seed))
    records = td.load_records(ctx.input(SKILLS) / "train.jsonl", task="mcq")
    if not records:
        raise ValueError(f"no mcq items in {ctx.input(SKILLS) / 'train.jsonl'}")
    policy, processor = mb.load_pretrained(ctx.input("coldstart"))
    freeze.prepare(policy, {"trainable": g.get("trainable")}, ctx.root / tower_cache.TOWER_CACHE_DIR)
    audio = mi.AudioLoader(ctx.root, float(cfg.model.max_audio_s), capacity=128)
    truths = structured_truths(ctx.input(SKILLS))

    def log_step(step: int, metrics: dict) -> None:
        if step % int(g.logging_steps) == 0 or step == int(g.steps):
            mlflow.log_metrics(metrics, step=step)
            ctx.log(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    with tracking.stage_run(ctx, cfg) as run:
        mlflow.log_params({"mf.data.grpo_prompts": len(records)})
        history, samples, probes = grpo_loop(g, policy, processor, records, audio, truths, int(cfg.seed), log_step)
        for p in probes:  # step 0 is the cold-start policy
            mlflow.log_metrics({k: v for k, v in p.items() if k != "step"}, step=p["step"])
        mlflow.log_text("\n".join(json.dumps(s, ensure_ascii=False) for s in samples) + "\n", "grpo/completions.jsonl")
        mlflow.log_artifact(str(reward_curve_png(history, ctx.cache_dir / "grpo_reward.png", probes)), "grpo")
        mb.save(policy, processor, ctx.out)
        version = tracking.register(run.info.run_id, ctx.out, alias="grpo", root=ctx.root)
    return {
        **grpo_summary(history, probes),
        "prompts": len(records),
        "rollouts": len(samples),
        "model_version": version,
        "mlflow_run_id": run.info.run_id,
    }
