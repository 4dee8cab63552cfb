"""Stage `backbone`: build the tiny Music Flamingo (or load a local checkpoint), enhance it with ASR, register it.

`run_backbone(cfg, ctx)` builds or loads the model. With
`train.backbone.steps > 0` it then runs the enhancement stage: a supervised
run (the SFT trainer, assistant-only loss) on the ASR mixture of
`train.backbone.mixture` (multilingual ASR, multi-speaker ASR and lyrics
transcription; the embedded default is the espeak-ng corpus, see
`musicflamingo.speech`), with `train.backbone.heldout` rows held out to
measure the ASR loss before and after. It writes model + processor to
`ctx.out` (`models/backbone/`), logs the run with full lineage to MLflow,
registers it as a `music-flamingo` version with alias `backbone` and
returns a summary (parameter counts, vocabulary size, source, losses).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from omegaconf import OmegaConf, open_dict, read_write

from musicflamingo import tracking
from musicflamingo.io import write_jsonl
from musicflamingo.model import build as mb


def _enhance(cfg, ctx, model, processor, log) -> dict:
    """The ASR enhancement run; returns its summary (the trained model is in ctx.out)."""
    from musicflamingo.speech.sources import mixture_records
    from musicflamingo.train.sft import run_key, train_supervised

    b = cfg.train.backbone
    records = mixture_records(b.mixture, int(b.examples), ctx.cache_dir / "asr", int(cfg.seed))
    n_held = min(int(b.get("heldout", 0)), len(records) - 1)
    train, heldout = records[n_held:], records[:n_held]
    if cfg.model.source == "local":
        initial = Path(cfg.model.path)  # the checkpoint itself: nothing to copy
    else:  # the built model, saved once per model config and seed
        key = hashlib.sha256(f"{OmegaConf.to_yaml(cfg.model, resolve=True)}{cfg.seed}".encode()).hexdigest()[:12]
        initial = ctx.cache_dir / f"initial-{key}"
        if not (initial / "config.json").is_file():
            mb.save(model, processor, initial)
    # The trainer's settings for this run (`steps` as HF's max_steps), in a copy of the stage's read-only params.
    stage_cfg = OmegaConf.create({**OmegaConf.to_container(b, resolve=True), "max_steps": int(b.steps)})
    run_cfg = copy.deepcopy(cfg)
    with read_write(run_cfg), open_dict(run_cfg):
        run_cfg.train.backbone = stage_cfg
    manifest = ctx.cache_dir / "asr" / "mixture.jsonl"
    write_jsonl(manifest, records)
    ckpt = ctx.cache_dir / f"run-{run_key(stage_cfg, cfg.deepspeed, int(cfg.seed), manifest, initial)}"
    summary = train_supervised(run_cfg, "backbone", initial, train, heldout, ctx.root, ctx.out, ckpt, log=log)
    tasks = sorted({r["task"] for r in records})
    summary["asr_tasks"] = {t: sum(r["task"] == t for r in records) for t in tasks}
    return summary


def run_backbone(cfg, ctx) -> dict:
    import mlflow

    model, processor = mb.backbone(cfg.model, seed=int(cfg.seed))
    n_params = sum(p.numel() for p in model.parameters())
    audio_params = sum(p.numel() for p in model.model.audio_tower.parameters())
    summary = {
        "source": str(cfg.model.source),
        "profile": str(cfg.model.get("profile", "")),
        "model_type": model.config.model_type,
        "parameters": n_params,
        "audio_encoder_parameters": audio_params,
        "vocab_size": len(processor.tokenizer),
    }
    with tracking.stage_run(ctx, cfg) as run:
        mlflow.log_params({f"mf.backbone.{k}": v for k, v in summary.items()})
        if int(cfg.train.backbone.get("steps", 0)) > 0:
            summary["enhancement"] = _enhance(cfg, ctx, model, processor, ctx.log)
        else:
            mb.save(model, processor, ctx.out)
        summary["model_version"] = tracking.register(run.info.run_id, ctx.out, alias="backbone", root=ctx.root)
        summary["mlflow_run_id"] = run.info.run_id
    ctx.log(f"{summary['model_type']} with {n_params:,} parameters -> {ctx.out}")
    return summary
