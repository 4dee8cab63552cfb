"""Supervised training: assistant-only labels, collation, Trainer runs (plain and DeepSpeed ZeRO-2)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.model import inputs as mi
from musicflamingo.testing.fixtures import isolated_mlflow, write_fixture
from musicflamingo.model.tokenizer import IM_END
from musicflamingo.train import data as td

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A project root with fixture data and a tiny backbone in models/backbone."""
    root = tmp_path_factory.mktemp("root")
    paths = write_fixture(root, n_tracks=3, seconds=1.5)
    mb.build_tiny(small_model_cfg(), root / "models/backbone", seed=0)
    return root, paths


def _cfg(deepspeed: bool, max_steps: int = 3) -> OmegaConf:
    params = OmegaConf.load(ROOT / "params.yaml")
    stage = {
        "data": "mf_skills",
        "epochs": 1,
        "max_steps": max_steps,
        "per_device_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-2,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "warmup_ratio": 0.0,
        "lr_scheduler": "constant",
        "max_length": 512,
        "gradient_checkpointing": False,
        "bf16": "auto",
        "deepspeed": deepspeed,
        "logging_steps": 1,
        "save_steps": 2,
        "group_by_length": False,
        "pack_turns": 1,
    }
    return OmegaConf.create(
        {
            "experiment": "test",
            "seed": 0,
            "model": small_model_cfg(),
            "train": {"sft": stage, "coldstart": {**stage, "data": "mf_think"}, "grpo": {"reward_weights": params.train.grpo.reward_weights}},
            "deepspeed": params.deepspeed,
        }
    )


def test_labels_cover_only_the_assistant_reply(world):
    root, paths = world
    _, processor = mb.load_pretrained(root / "models/backbone")
    rec = td.load_records(paths["train"], task="mcq")[0]
    audio = mi.AudioLoader(root, 30.0)
    ex = td.encode_example(processor, rec, audio(rec["sound"]), max_length=512)
    ids, labels = ex["input_ids"], ex["labels"]
    assert ids.shape == labels.shape
    supervised = labels != td.IGNORE
    # exactly a suffix is supervised: the reply and its end-of-turn token
    first = int(supervised.float().argmax())
    assert supervised[first:].all() and not supervised[:first].any()
    assert torch.equal(labels[supervised], ids[supervised])
    tok = processor.tokenizer
    assert tok.decode(ids[supervised]) == mi.gpt_turn(rec) + IM_END
    # no audio, bos/eos, prompt or header position carries a label
    assert not supervised[ids == processor.audio_token_id].any()
    prefix = tok.decode(ids[:first])
    assert prefix.endswith("<|im_start|>assistant\n") and "<|im_start|>user\n" in prefix
    # the supervised prefix is exactly what generation is conditioned on
    prompt = mi.encode_prompts(processor, [mi.prompt_text(processor, mi.human_turn(rec))], [audio(rec["sound"])])
    assert torch.equal(prompt["input_ids"][0], ids[:first])


def test_truncation_cuts_the_reply_never_the_audio(world):
    root, paths = world
    _, processor = mb.load_pretrained(root / "models/backbone")
    rec = td.load_records(paths["train"], task="caption")[0]
    wav = mi.AudioLoader(root, 30.0)(rec["sound"])
    full = td.encode_example(processor, rec, wav, max_length=4096)
    n_prompt = int((full["labels"] == td.IGNORE).sum())
    cut = td.encode_example(processor, rec, wav, max_length=n_prompt + 3)
    assert len(cut["input_ids"]) == n_prompt + 3 and int((cut["labels"] != td.IGNORE).sum()) == 3
    with pytest.raises(ValueError, match="no room"):
        td.encode_example(processor, rec, wav, max_length=n_prompt)


def test_collator_pads_right_and_concatenates_audio_windows(world):
    root, paths = world
    _, processor = mb.load_pretrained(root / "models/backbone")
    records = td.load_records(paths["train"])
    ds = td.ConversationDataset(records[:2], processor, mi.AudioLoader(root, 30.0), 512)
    items = [ds[0], ds[1]]
    batch = td.SupervisedCollator(processor.tokenizer.pad_token_id)(items)
    n = max(len(x["input_ids"]) for x in items)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (2, n)
    assert batch["input_features"].shape == (2, 80, 3000) and batch["input_features_mask"].shape == (2, 3000)
    for i, x in enumerate(items):
        k = len(x["input_ids"])
        assert batch["attention_mask"][i, :k].all() and not batch["attention_mask"][i, k:].any()
        assert (batch["labels"][i, k:] == td.IGNORE).all()
    model, _ = mb.load_pretrained(root / "models/backbone")
    loss = model(**batch).loss
    assert torch.isfinite(loss)


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _changed(before: dict, model) -> int:
    return sum(int(not torch.equal(before[k], v.detach())) for k, v in model.named_parameters())


def test_plain_trainer_few_steps_change_params_and_lower_loss(world, tmp_path):
    from musicflamingo.train.sft import train_supervised

    root, paths = world
    before, _ = mb.load_pretrained(root / "models/backbone")
    before = _params(before)
    train = td.load_records(paths["train"])
    heldout = td.load_records(paths["heldout"])
    out = tmp_path / "sft"
    summary = train_supervised(
        _cfg(deepspeed=False), "sft", root / "models/backbone", train, heldout, root, out, tmp_path / "ckpt"
    )
    assert summary["steps"] == 3 and summary["deepspeed"] is False
    assert summary["heldout_loss"] < summary["heldout_loss_initial"]
    assert "heldout_loss_mcq" in summary and "heldout_loss_caption" in summary
    trained, _ = mb.load_pretrained(out)
    assert _changed(before, trained) > 0
    assert not (tmp_path / "ckpt").exists()  # crash-recovery checkpoints are gone after success


def test_run_sft_stage_logs_and_registers(world, monkeypatch):
    from mlflow.tracking import MlflowClient

    from musicflamingo import registry
    from musicflamingo.stage import StageContext
    from musicflamingo.train.stages import run_sft

    root, _ = world
    isolated_mlflow(monkeypatch, root)
    ctx = StageContext(root=root, stage=registry.get("sft"))
    summary = run_sft(_cfg(deepspeed=False, max_steps=2), ctx)
    assert (ctx.out / "model.safetensors").is_file() and (ctx.out / "tokenizer.json").is_file()
    run = MlflowClient().get_run(summary["mlflow_run_id"])
    assert "heldout_loss" in run.data.metrics and "loss" in run.data.metrics  # ours and the Trainer's
    assert run.data.params["mf.data.train_records"] == str(summary["train_records"])
    assert "learning_rate" in run.data.params  # the Trainer's params landed in the same run
    assert str(MlflowClient().get_model_version_by_alias("music-flamingo", "sft").version) == summary["model_version"]


def _listening(pid_sockets) -> list[str]:
    return [c.laddr.ip for c in pid_sockets if c.status == "LISTEN"]


@pytest.mark.slow
def test_deepspeed_zero2_on_cpu_matches_plain_and_listens_only_on_loopback(world, tmp_path, monkeypatch):
    """ZeRO-2 under the HF Trainer on CPU, gloo, one process. Slow on a cold cache: the shm_comm op is JIT-built."""
    import psutil

    from musicflamingo.train.sft import train_supervised

    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    # Reuse the CLI's op build: same folder and the venv's ninja first on PATH, as
    # env.apply sets it (a different ninja version rewrites the log and rebuilds).
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    root, paths = world
    before, _ = mb.load_pretrained(root / "models/backbone")
    before = _params(before)

    seen: set[str] = set()
    stop = threading.Event()

    def watch():  # sample this process's listening sockets while training runs
        proc = psutil.Process()
        while not stop.is_set():
            seen.update(_listening(proc.net_connections("inet")))
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        out = tmp_path / "sft-ds"
        summary = train_supervised(
            _cfg(deepspeed=True),
            "sft",
            root / "models/backbone",
            td.load_records(paths["train"]),
            td.load_records(paths["heldout"]),
            root,
            out,
            tmp_path / "ckpt",
        )
    finally:
        stop.set()
        t.join()
    seen.update(_listening(psutil.Process().net_connections("inet")))  # the group outlives the run
    assert summary["deepspeed"] is True and summary["steps"] == 3
    trained, _ = mb.load_pretrained(out)
    assert _changed(before, trained) > 0
    assert seen <= {"127.0.0.1"}, f"listening beyond loopback: {seen}"
    assert "RANK" not in os.environ and "WORLD_SIZE" not in os.environ  # the environment is restored
    # ZeRO-2 on one rank is the same optimisation as the plain Trainer; running it
    # second in this process also checks that no DeepSpeed state leaks into it.
    plain = train_supervised(
        _cfg(deepspeed=False),
        "sft",
        root / "models/backbone",
        td.load_records(paths["train"]),
        td.load_records(paths["heldout"]),
        root,
        tmp_path / "sft-plain",
        tmp_path / "ckpt2",
    )
    assert plain["deepspeed"] is False
    assert plain["train_loss"] == pytest.approx(summary["train_loss"], abs=1e-3)
    assert plain["heldout_loss"] == pytest.approx(summary["heldout_loss"], abs=1e-3)


def test_task_weights_repeat_records_and_reject_bad_weights():
    recs = [{"id": f"c{i}", "task": "caption"} for i in range(10)] + [{"id": f"q{i}", "task": "mcq"} for i in range(10)]
    out = td.weight_tasks(recs, {"caption": 3.0, "mcq": 0.5}, seed=0)
    assert sum(r["task"] == "caption" for r in out) == 30
    assert 1 <= sum(r["task"] == "mcq" for r in out) <= 9  # about half, drawn at random
    assert td.weight_tasks(recs, None, seed=0) == recs
    with pytest.raises(ValueError, match="finite and >= 0"):
        td.weight_tasks(recs, {"caption": -1.0}, seed=0)
    with pytest.raises(ValueError, match="no training records"):
        td.weight_tasks(recs, {"caption": 0.0, "mcq": 0.0}, seed=0)


def test_split_tracks_holds_out_whole_tracks():
    recs = [{"id": f"t{t}-{k}", "track_id": f"t{t}"} for t in range(10) for k in range(3)]
    train, held = td.split_tracks(recs, 0.2, seed=0)
    assert len(train) + len(held) == len(recs) and len(held) == 6
    assert not {r["track_id"] for r in train} & {r["track_id"] for r in held}
    assert td.split_tracks(recs, 0.2, seed=0) == (train, held)  # deterministic
    assert len(td.split_tracks(recs[:6], 0.01, seed=0)[1]) == 3  # at least one track
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        td.split_tracks(recs, 1.0, seed=0)


@pytest.mark.parametrize("deepspeed", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_select_best_probes_every_epoch_stops_early_and_keeps_the_best(world, tmp_path, monkeypatch, deepspeed):
    """A random tiny model never closes its tags in 6 tokens: the probe reward stays 0, so epoch 1
    stays the best, patience 1 stops after epoch 2 of 4, and its weights are the ones saved."""
    from musicflamingo.train.sft import train_supervised

    if deepspeed:  # as in the ZeRO-2 test above: the CLI's op build, loopback only
        monkeypatch.setenv("DS_ACCELERATOR", "cpu")
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
        monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))
        monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    root, paths = world
    cfg = _cfg(deepspeed=deepspeed, max_steps=-1)
    cfg.train.coldstart.epochs = 4
    cfg.train.coldstart.select_best = {"enabled": True, "validation_fraction": 0.34, "metric": "reward", "max_new_tokens": 6, "patience": 1}
    think = td.load_records(paths["think"])
    out = tmp_path / "cs"
    summary = train_supervised(cfg, "coldstart", root / "models/backbone", think, [], root, out, tmp_path / "ckpt")
    assert summary["validation_records"] == 2 and summary["train_records"] == 4  # one of 3 tracks held out
    curve = summary["validation_curve"]
    assert [c["epoch"] for c in curve] == [1.0, 2.0] and summary["epochs_run"] == 2.0
    assert all(c["probe_reward"] == 0.0 and "probe_format" in c and c["loss"] > 0 for c in curve)
    assert summary["best_epoch"] == 1.0 and summary["best_step"] == 2 and summary["steps"] == 4
    # the saved model is epoch 1's: its held-out loss on the probed records is epoch 1's eval loss
    model, processor = mb.load_pretrained(out)
    _, held = td.split_tracks(think, 0.34, seed=0)
    ds = td.ConversationDataset(held, processor, mi.AudioLoader(root, 30.0), 512)
    loss = td.heldout_loss(model, ds, td.SupervisedCollator(processor.tokenizer.pad_token_id), batch_size=2)
    assert loss == pytest.approx(curve[0]["loss"], abs=1e-4) and loss != pytest.approx(curve[1]["loss"], abs=1e-4)
    assert not (tmp_path / "ckpt").exists()


def test_dataset_reuses_each_clips_features_and_encodes_as_the_processor_does(world):
    root, paths = world
    _, processor = mb.load_pretrained(root / "models/backbone")
    records = td.load_records(paths["train"])
    by_sound: dict = {}
    for r in records:
        by_sound.setdefault(r["sound"], []).append(r)
    same = next(rs for rs in by_sound.values() if len(rs) >= 2)[:2]
    audio = mi.AudioLoader(root, 30.0)
    ds = td.ConversationDataset(same, processor, audio, 512)
    a, b = ds[0], ds[1]
    assert a["input_features"] is b["input_features"]  # one log-mel per clip, not per record
    for rec, got in zip(same, (a, b)):
        ref = td.encode_example(processor, rec, audio(rec["sound"]), 512)
        assert all(torch.equal(got[k], ref[k]) for k in ref)
        n_prompt = int((got["labels"] == td.IGNORE).sum())
        prompt = mi.encode_prompts(processor, [mi.prompt_text(processor, mi.human_turn(rec))], [audio(rec["sound"])])
        assert torch.equal(prompt["input_ids"][0], got["input_ids"][:n_prompt])
        assert torch.equal(prompt["input_features"], got["input_features"])


def test_packed_conversations_label_every_reply_and_keep_copies_apart(world):
    root, paths = world
    _, processor = mb.load_pretrained(root / "models/backbone")
    records = td.load_records(paths["train"])
    items = td.weight_tasks(records, {"mcq": 2.0}, seed=0)  # every MCQ twice: copies must not share a pack
    packs = td.pack_turns(items, max_turns=4, max_tokens=4096, tokenizer=processor.tokenizer, seed=0)
    assert len(packs) < len(items) and max(len(td.turns_of(p)) for p in packs) <= 4
    assert sorted(i for p in packs for i in p["id"].split("+")) == sorted(r["id"] for r in items)
    for p in packs:
        ids = p["id"].split("+")
        assert len(set(ids)) == len(ids)
        assert sum("<sound>" in h for h, _ in td.turns_of(p)) == 1
    audio = mi.AudioLoader(root, 30.0)
    pack = max(packs, key=lambda p: len(td.turns_of(p)))
    pairs = td.turns_of(pack)
    assert len(pairs) >= 2
    ex = td.encode_example(processor, pack, audio(pack["sound"]), 4096)
    tok = processor.tokenizer
    sup = (ex["labels"] != td.IGNORE).int()
    starts = torch.nonzero(torch.diff(torch.cat([torch.zeros(1, dtype=torch.int), sup])) == 1).flatten().tolist()
    ends = torch.nonzero(torch.diff(torch.cat([sup, torch.zeros(1, dtype=torch.int)])) == -1).flatten().tolist()
    assert [tok.decode(ex["input_ids"][a : b + 1]) for a, b in zip(starts, ends)] == [r + IM_END for _, r in pairs]
    # the first turn is exactly the single-turn example of that question; the whole text is the chat template's
    first = td.encode_example(processor, pack, audio(pack["sound"]), 4096, *pairs[0])
    assert torch.equal(ex["input_ids"][: len(first["input_ids"])], first["input_ids"])
    messages = [m for h, r in pairs for m in ({"role": "user", "content": h}, {"role": "assistant", "content": r})]
    text = tok.decode(ex["input_ids"][~torch.isin(ex["input_ids"], torch.tensor(mi.audio_token_ids(_cfg_of(root))))])
    assert text == processor.apply_chat_template(messages, tokenize=False).replace("<sound>", "").rstrip("\n")
    # turns that do not fit are dropped, not cut
    short = td.encode_example(processor, pack, audio(pack["sound"]), len(first["input_ids"]) + 3)
    assert torch.equal(short["input_ids"], first["input_ids"])


def _cfg_of(root):
    return mb.load_pretrained(root / "models/backbone")[0].config
