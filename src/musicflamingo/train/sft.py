"""Supervised fine-tuning with the HF Trainer, under DeepSpeed ZeRO or plain.

Contract of `train_supervised(...)`:
- trains the model in `model_dir` on `train_records` (loss on assistant
  tokens only, see `train.data`), with DeepSpeed when `stage_cfg.deepspeed`
  is true (config from `cfg.deepspeed`; on a CPU a single gloo process on
  loopback, see `train.distributed`) and the plain Trainer otherwise;
- reports to MLflow through the Trainer's callback, which reuses the run the
  caller opened (so everything lands in the stage's run);
- measures the held-out loss (token-weighted, assistant tokens) before and
  after training, overall and per task, and logs it as `heldout_loss*`;
- freezes parts and adds LoRA per `stage_cfg.trainable` / `stage_cfg.lora`
  (`model.freeze`); a frozen audio tower is cached per 30 s window under
  `root/.cache/tower_features` (`model.tower_cache`), shared by all stages; a LoRA adapter is merged before saving, so the next
  stage always loads a plain checkpoint;
- groups batches by length (`stage_cfg.group_by_length`, lengths estimated
  from text + audio duration without encoding anything) and logs
  `tokens_per_s` (non-padding input tokens, audio tokens included) next to
  the Trainer's loss, learning rate and grad norm;
- packs the records about one sound into multi-turn conversations of up to
  `stage_cfg.pack_turns` turns (`train.data.pack_turns`: one pass over a
  clip's audio tokens per several answers);
- repeats records per task by `stage_cfg.task_weights` (the mixture), after
  adding `stage_cfg.option_text_fraction` of the MCQs in the option-text
  layout of MMAU/MMAR (`train.data.option_text_variants`);
- with `stage_cfg.select_best.enabled`, holds out a fraction of the tracks,
  runs the greedy think/answer probe (`train.probe`) on their MCQs after
  every epoch, stops after `patience` epochs without gain and ends on the
  best epoch's weights (read back from that epoch's checkpoint);
- saves the final model + processor to `out_dir` and returns a summary.
Intermediate checkpoints go to `checkpoint_dir`; a rerun after a crash
resumes from the last one there, and a finished run deletes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from musicflamingo.io import folder_fingerprint
from musicflamingo.model import build as mb
from musicflamingo.model import freeze
from musicflamingo.model import inputs as mi
from musicflamingo.model import tower_cache
from musicflamingo.train import data as td
from musicflamingo.train import distributed as dist


def selection(stage_cfg) -> DictConfig | None:
    """`stage_cfg.select_best` when enabled, else None."""
    sel = stage_cfg.get("select_best")
    return sel if sel is not None and bool(sel.get("enabled", False)) else None


def training_arguments(stage_cfg, output_dir: Path, seed: int, ds_config: dict | None, report_to: list[str]):
    """TrainingArguments for a stage. DeepSpeed on CPUs primes accelerate's state first
    (`distributed.prime_cpu_deepspeed_state`), and the arguments then reuse it. With a
    `select_best` block every epoch is evaluated and saved, and the best one is tracked."""
    from transformers import TrainingArguments

    sel = selection(stage_cfg)
    per_epoch = {
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        # train_supervised loads the best epoch itself (`mb.load_model`): the Trainer's loader reads
        # MusicFlamingo's on-disk key names as they are, loads nothing and only warns.
        "load_best_model_at_end": False,
        "metric_for_best_model": f"probe_{sel.get('metric', 'reward')}",
        "greater_is_better": True,
        "per_device_eval_batch_size": int(stage_cfg.per_device_batch_size),
    } if sel is not None else {"save_strategy": "steps", "save_steps": int(stage_cfg.save_steps)}
    on_cuda = torch.cuda.is_available()
    cpu_deepspeed = ds_config is not None and not on_cuda
    if cpu_deepspeed:
        dist.prime_cpu_deepspeed_state()
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=float(stage_cfg.epochs),
        max_steps=int(stage_cfg.max_steps),
        per_device_train_batch_size=int(stage_cfg.per_device_batch_size),
        gradient_accumulation_steps=int(stage_cfg.gradient_accumulation_steps),
        learning_rate=float(stage_cfg.learning_rate),
        weight_decay=float(stage_cfg.weight_decay),
        warmup_steps=float(stage_cfg.warmup_ratio),  # a float in [0, 1) is a ratio of the total steps
        lr_scheduler_type=str(stage_cfg.lr_scheduler),
        max_grad_norm=float(stage_cfg.max_grad_norm),
        logging_steps=int(stage_cfg.logging_steps),
        **per_epoch,
        save_total_limit=1,  # the latest; the best checkpoint is always kept as well
        bf16=dist.resolve_bf16(stage_cfg.bf16),
        activation_checkpointing=bool(stage_cfg.gradient_checkpointing),
        train_sampling_strategy="group_by_length" if bool(stage_cfg.group_by_length) else "random",
        include_num_input_tokens_seen="non_padding",
        deepspeed=ds_config,
        # gloo only for DeepSpeed on a CPU: for the plain Trainer an explicit
        # backend makes accelerate expect a multi-process CPU group.
        ddp_backend="gloo" if (ds_config is not None and not on_cuda) else None,
        use_cpu=(not on_cuda) and ds_config is None,
        seed=int(seed),
        data_seed=int(seed),
        report_to=report_to,
        remove_unused_columns=False,  # the collator builds exactly the model's inputs
        dataloader_num_workers=0,
        dataloader_pin_memory=on_cuda,
        disable_tqdm=True,
        save_only_model=False,
        accelerator_config={"use_configured_state": True} if cpu_deepspeed else None,
    )


def make_trainer(probe=None, **kwargs):
    """A HF Trainer whose length grouping reads `train_dataset.lengths` (estimates)
    instead of encoding every item, audio included, to measure it. `probe(model) -> dict`
    adds `eval_probe_<k>` metrics to every evaluation (next to the held-out `eval_loss`),
    where `metric_for_best_model` and early stopping can read them."""
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class LengthGroupedTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            ds = train_dataset if train_dataset is not None else self.train_dataset
            if self.args.train_sampling_strategy == "group_by_length" and hasattr(ds, "lengths"):
                size = self.args.train_batch_size * self.args.gradient_accumulation_steps
                return LengthGroupedSampler(size, lengths=ds.lengths)
            return super()._get_train_sampler(train_dataset)

        def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kw):
            out = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kw)
            if probe is not None:
                out.metrics.update({f"{metric_key_prefix}_probe_{k}": v for k, v in probe(self.model).items()})
            return out

    return LengthGroupedTrainer(**kwargs)


def selection_summary(state, n_validation: int) -> dict:
    """The per-epoch validation curve (eval loss + probe) and the epoch that was kept."""
    evals = [h for h in state.log_history if "eval_loss" in h]
    best = state.best_model_checkpoint
    best_step = int(best.rsplit("-", 1)[-1]) if best else int(state.global_step)
    return {
        "validation_records": n_validation,
        "best_step": best_step,
        "best_epoch": next((round(h["epoch"], 2) for h in evals if h.get("step") == best_step), None),
        "epochs_run": round(float(state.epoch or 0.0), 2),
        "validation_curve": [
            {"epoch": round(h["epoch"], 2), "loss": round(h["eval_loss"], 4), **{k.removeprefix("eval_"): v for k, v in h.items() if k.startswith("eval_probe_")}}
            for h in evals
        ],
    }


def epoch_probe(sel, processor, records: list[dict], audio: mi.AudioLoader, weights):
    """probe(model) -> the greedy think/answer rewards on `records` (no texts), for `make_trainer`;
    `weights` (`train.grpo.reward_weights`) make up its `reward`, as GRPO's."""
    from musicflamingo.train.probe import reward_probe

    mcq = [r for r in records if r.get("options") and r.get("answer_letter")]
    if not mcq:
        raise ValueError("select_best: the held-out tracks have no MCQ items to probe")

    def probe(model) -> dict:
        out = reward_probe(model, processor, mcq, audio, int(sel.max_new_tokens), weights=weights)
        return {k: v for k, v in out.items() if k not in ("texts", "n")}

    return probe


def throughput_callback():
    """Logs `tokens_per_s` (non-padding input tokens per second between logging steps) to MLflow."""
    import time

    import mlflow
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        def __init__(self):
            self.t, self.tokens = None, 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.t, self.tokens = time.perf_counter(), int(state.num_input_tokens_seen or 0)

        def on_log(self, args, state, control, logs=None, **kwargs):
            now, seen = time.perf_counter(), int(state.num_input_tokens_seen or 0)
            if self.t is not None and now > self.t and seen > self.tokens:
                rate = (seen - self.tokens) / (now - self.t)
                if mlflow.active_run() and state.is_world_process_zero:
                    mlflow.log_metric("tokens_per_s", rate, step=state.global_step)
            self.t, self.tokens = now, seen

    return Throughput()


def run_key(stage_cfg, ds_cfg, seed: int, train_file: Path, model_dir: Path) -> str:
    """Hash of everything that determines a training run, naming its checkpoint folder."""
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {
                "stage": OmegaConf.to_container(stage_cfg, resolve=True),
                "ds": OmegaConf.to_container(ds_cfg, resolve=True) if isinstance(ds_cfg, DictConfig) else ds_cfg,
                "seed": seed,
            },
            sort_keys=True,
        ).encode()
    )
    h.update(Path(train_file).read_bytes())
    h.update(folder_fingerprint(model_dir).encode())  # content, not mtimes: a `dvc checkout` does not restart a run
    return h.hexdigest()[:16]


def heldout_losses(
    model, processor, records: list[dict], audio: mi.AudioLoader, max_length: int, batch_size: int
) -> dict[str, float]:
    """`heldout_loss` over all records, plus `heldout_loss_<task>` per task."""
    if not records:
        return {}
    collator = td.SupervisedCollator(processor.tokenizer.pad_token_id)
    out = {
        "heldout_loss": td.heldout_loss(
            model, td.ConversationDataset(records, processor, audio, max_length), collator, batch_size
        )
    }
    for task in sorted({r.get("task", "") for r in records}):
        subset = [r for r in records if r.get("task", "") == task]
        if task and len(subset) < len(records):
            out[f"heldout_loss_{task}"] = td.heldout_loss(
                model, td.ConversationDataset(subset, processor, audio, max_length), collator, batch_size
            )
    return out


def train_supervised(
    cfg,
    stage_name: str,
    model_dir: Path,
    train_records: list[dict],
    heldout_records: list[dict],
    root: Path,
    out_dir: Path,
    checkpoint_dir: Path,
    log=print,
    cache_root: Path | None = None,
    callbacks: list | None = None,
) -> dict:
    """`cache_root`: where `.cache/tower_features` lives (default `root`); `callbacks`: extra
    `TrainerCallback`s (a benchmark's step timer)."""
    import mlflow
    from transformers.trainer_utils import get_last_checkpoint

    stage_cfg = cfg.train[stage_name]
    use_ds = bool(stage_cfg.deepspeed)
    model, processor = mb.load_pretrained(model_dir)
    cache_dir = Path(cache_root or root) / tower_cache.TOWER_CACHE_DIR
    model = freeze.prepare(model, stage_cfg, cache_dir)
    counts = freeze.trainable_counts(model)
    log(f"trainable parameters: {counts}")
    if mlflow.active_run():
        mlflow.log_params({f"mf.trainable.{k}": v for k, v in counts.items()})
    audio = mi.AudioLoader(root, float(cfg.model.max_audio_s), capacity=128)  # every demo clip: no re-decoding per epoch
    max_length = int(stage_cfg.max_length)
    sel = selection(stage_cfg)
    val_records: list[dict] = []
    if sel is not None:
        train_records, val_records = td.split_tracks(train_records, float(sel.validation_fraction), int(cfg.seed))
        if not val_records:
            raise ValueError(f"{stage_name}: select_best needs records from at least 2 tracks to hold one out")
        log(f"select_best: {len(val_records)} records of held-out tracks probed after every epoch")
    fraction = float(stage_cfg.get("option_text_fraction", 0.0) or 0.0)
    if fraction > 0:  # MMAU/MMAR-layout copies of some MCQs, answered with the option text
        train_records = train_records + td.option_text_variants(train_records, fraction, int(cfg.seed))
    items = td.weight_tasks(train_records, stage_cfg.get("task_weights"), int(cfg.seed))
    items = td.pack_turns(items, int(stage_cfg.pack_turns), max_length, processor.tokenizer, int(cfg.seed))
    train_ds = td.ConversationDataset(items, processor, audio, max_length)
    collator = td.SupervisedCollator(processor.tokenizer.pad_token_id)
    eval_bs = int(stage_cfg.per_device_batch_size)

    before = heldout_losses(model, processor, heldout_records, audio, max_length, eval_bs)
    if mlflow.active_run():
        mlflow.log_metrics({f"{k}_initial": v for k, v in before.items()}, step=0)
    log(f"held-out loss before training: {before}")

    report_to = ["mlflow"] if mlflow.active_run() else []
    ds_config = dist.deepspeed_config(cfg.deepspeed) if use_ds else None
    if ds_config is not None and mlflow.active_run():
        mlflow.log_dict(ds_config, "config/deepspeed.json")
    # DeepSpeed needs a process group even for one process; ours rendezvous
    # through a file, so no TCP store listens anywhere.
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    group = (
        dist.single_process_group(checkpoint_dir.parent / "rendezvous", backend) if use_ds else contextlib.nullcontext()
    )
    with dist.isolated_accelerate_state(), group:
        args = training_arguments(stage_cfg, checkpoint_dir, int(cfg.seed), ds_config, report_to)
        callbacks = [throughput_callback(), *(callbacks or [])]
        if sel is not None and int(sel.patience) > 0:
            from transformers import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(sel.patience)))
        trainer = make_trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=td.ConversationDataset(val_records, processor, audio, max_length) if sel is not None else None,
            probe=epoch_probe(sel, processor, val_records, audio, cfg.train.grpo.reward_weights) if sel is not None else None,
            data_collator=collator,
            callbacks=callbacks,
        )
        resume = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
        if resume:
            log(f"resuming from {resume}")
        result = trainer.train(resume_from_checkpoint=resume)
        trained = trainer.model  # the HF module (ZeRO-2 keeps full parameters on every rank)
        steps = int(trainer.state.global_step)
        best = trainer.state.best_model_checkpoint if sel is not None else None
        if best and int(best.rsplit("-", 1)[-1]) != steps:
            log(f"select_best: ending on {Path(best).name} (best {sel.get('metric', 'reward')} {trainer.state.best_metric})")
            trained = mb.load_model(best)  # the full model as that epoch saved it (gathered under ZeRO-3)
            if not bool(freeze._plain(stage_cfg.get("trainable")).get("audio_tower", True)):
                freeze.cache_frozen_tower(trained, cache_dir)
        after = heldout_losses(trained, processor, heldout_records, audio, max_length, eval_bs)
        plain = freeze.merged(trained)
        if plain is not trained or trained is not trainer.model:
            if trainer.is_world_process_zero():
                mb.save(plain, processor, Path(out_dir))  # the best epoch's weights, or LoRA folded in
        else:
            trainer.save_model(str(out_dir))  # every rank: gathers ZeRO-3 partitions, rank 0 writes
            if trainer.is_world_process_zero():
                processor.save_pretrained(str(out_dir))
        rank0 = trainer.is_world_process_zero()
        tokens = int(trainer.state.num_input_tokens_seen or 0)
        runtime = float(result.metrics.get("train_runtime", 0.0))
        chosen = selection_summary(trainer.state, len(val_records)) if sel is not None else {}
    # Checkpoints exist for crash recovery only; a finished run must not "resume" next time.
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.barrier()  # every rank is done reading them
    if rank0:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    if mlflow.active_run():
        mlflow.log_metrics(after, step=steps)
    log(f"held-out loss after training: {after}")
    return {
        "train_records": len(train_records),
        "train_items_per_epoch": len(items),
        "heldout_records": len(heldout_records),
        "steps": steps,
        "train_loss": round(float(result.training_loss), 4),
        "deepspeed": use_ds,
        "zero_stage": int(ds_config["zero_optimization"]["stage"]) if ds_config else None,
        "trainable_parameters": counts["total"],
        "tokens_per_s": round(tokens / runtime, 1) if runtime > 0 else None,
        **{k: round(v, 4) for k, v in after.items()},
        **{f"{k}_initial": round(v, 4) for k, v in before.items()},
        **chosen,
    }
