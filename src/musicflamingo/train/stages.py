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

import torch

from musicflamingo import registry, tracking
from musicflamingo.model import build as mb
from musicflamingo.model import inputs as mi
from musicflamingo.train import data as td
from musicflamingo.train.grpo import AudioGRPO, GRPOSettings, Prompt
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
    from musicflamingo.data.formats import THINK_INSTRUCTION

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
        summary["model_version"] = tracking.register(run.info.run_id, ctx.out, alias=stage_name, root=ctx.root)
        summary["mlflow_run_id"] = run.info.run_id
    return summary


def run_sft(cfg, ctx) -> dict:
    """Full fine-tune of the backbone on MF-Skills (captions + QA)."""
    return _supervised(cfg, ctx, "sft", "backbone")


def run_coldstart(cfg, ctx) -> dict:
    """Chain-of-thought cold start of the SFT model on MF-Think."""
    return _supervised(cfg, ctx, "coldstart", "sft")


def grpo_prompts(records: list[dict], processor, audio: mi.AudioLoader, instruction: str) -> list[Prompt]:
    """GRPO prompts from MCQ records: the question plus the think/answer instruction."""
    out = []
    for r in records:
        human = mi.human_turn(r)
        if instruction and instruction not in human:
            human = f"{human}\n{instruction}"
        out.append(
            Prompt(mi.prompt_text(processor, human), audio(r["sound"]), r["answer_letter"], list(r["options"]), r["id"])
        )
    return out


def run_grpo(cfg, ctx) -> dict:
    """Audio-aware GRPO from the cold-start model on MF-Skills' MCQ items."""
    import mlflow

    g = cfg.train.grpo
    torch.manual_seed(int(cfg.seed))
    records = td.load_records(ctx.input(SKILLS) / "train.jsonl", task="mcq")
    if not records:
        raise ValueError(f"no mcq items in {ctx.input(SKILLS) / 'train.jsonl'}")
    policy, processor = mb.load_pretrained(ctx.input("coldstart"))
    audio = mi.AudioLoader(ctx.root, float(cfg.model.max_audio_s))
    settings = GRPOSettings.from_cfg(g)
    trainer = AudioGRPO(policy, processor, settings)
    rng = random.Random(int(cfg.seed))
    order: list[dict] = []
    history: list[dict] = []
    samples: list[dict] = []
    instruction = think_instruction()
    with tracking.stage_run(ctx, cfg) as run:
        mlflow.log_params({"mf.data.grpo_prompts": len(records)})
        for step in range(1, int(g.steps) + 1):
            chosen = []
            for _ in range(int(g.prompts_per_step)):
                if not order:  # epochs over a reshuffled prompt set
                    order = rng.sample(records, len(records))
                chosen.append(order.pop())
            prompts = grpo_prompts(chosen, processor, audio, instruction)
            metrics = trainer.step(prompts)
            history.append(metrics)
            r = trainer.last_rollout
            for i, text in enumerate(r.texts):
                sample = {"step": step, "id": prompts[i // settings.num_generations].id, "completion": text}
                sample.update(reward=float(r.rewards[i]), **{k: v[i] for k, v in r.parts.items()})
                samples.append(sample)
            if step % int(g.logging_steps) == 0 or step == int(g.steps):
                mlflow.log_metrics(metrics, step=step)
                ctx.log(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        mlflow.log_text("\n".join(json.dumps(s, ensure_ascii=False) for s in samples) + "\n", "grpo/completions.jsonl")
        mb.save(policy, processor, ctx.out)
        version = tracking.register(run.info.run_id, ctx.out, alias="grpo", root=ctx.root)

    def mean(key: str) -> float:
        return round(sum(h[key] for h in history) / len(history), 4)

    summary = {
        "steps": len(history),
        "prompts": len(records),
        "rollouts": len(samples),
        "reward_mean": mean("reward"),
        **{f"{k}_mean": mean(k) for k in history[0] if k.startswith("reward_") and k != "reward_std"},
        "kl_last": round(history[-1]["kl"], 6),
        "clip_frac_mean": mean("clip_frac"),
        "loss_last": round(history[-1]["loss"], 6),
        "rollouts_per_s": mean("rollouts_per_s"),
        "model_version": version,
        "mlflow_run_id": run.info.run_id,
    }
    return summary
