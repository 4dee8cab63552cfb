"""Stage `backbone`: build the tiny Music Flamingo (or load a local checkpoint) and register it.

`run_backbone(cfg, ctx)` writes model + processor to `ctx.out`
(`models/backbone/`), logs the run with full lineage to MLflow, registers
it as a `music-flamingo` version with alias `backbone` and returns a summary
(parameter counts, vocabulary size, source).
"""

from __future__ import annotations

from musicflamingo import tracking
from musicflamingo.model import build as mb


def run_backbone(cfg, ctx) -> dict:
    import mlflow

    if int(cfg.train.backbone.get("steps", 0)) > 0:
        raise NotImplementedError(
            "train.backbone.steps > 0 (the ASR/lyrics enhancement stage) is not implemented; set it to 0"
        )
    model, processor = mb.backbone(cfg.model, seed=int(cfg.seed))
    mb.save(model, processor, ctx.out)
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
        summary["model_version"] = tracking.register(run.info.run_id, ctx.out, alias="backbone", root=ctx.root)
        summary["mlflow_run_id"] = run.info.run_id
    ctx.log(f"{summary['model_type']} with {n_params:,} parameters -> {ctx.out}")
    return summary
