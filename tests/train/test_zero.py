"""DeepSpeed ZeRO-2 and ZeRO-3 under the HF Trainer with 2 CPU processes (gloo, loopback only).

Slow: two ranks each build the model, and a cold TORCH_EXTENSIONS_DIR JIT-builds shm_comm.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.testing.fixtures import write_fixture
from musicflamingo.train import data as td
from musicflamingo.train.launch import spawn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    paths = write_fixture(root, n_tracks=3, seconds=1.0)
    mb.build_tiny(small_model_cfg(), root / "models/backbone", seed=0)
    return root, paths


def _job(root: Path, paths: dict, zero: str, out: Path) -> dict:
    stage = OmegaConf.merge(
        OmegaConf.load(ROOT / "conf/train/sft.yaml"),
        {"epochs": 1, "max_steps": 2, "per_device_batch_size": 1, "learning_rate": 1e-2, "warmup_ratio": 0.0,
         "lr_scheduler": "constant", "max_length": 512, "logging_steps": 1, "save_steps": 10**6, "deepspeed": True},
    )
    cfg = {
        "seed": 0,
        "model": OmegaConf.to_container(small_model_cfg()),
        "train": {"sft": OmegaConf.to_container(stage)},
        "deepspeed": OmegaConf.to_container(OmegaConf.load(ROOT / f"conf/deepspeed/{zero}.yaml")),
    }
    return {
        "cfg": cfg,
        "stage": "sft",
        "model_dir": str(root / "models/backbone"),
        "train": td.load_records(paths["train"]),
        "heldout": td.load_records(paths["heldout"]),
        "root": str(root),
        "out_dir": str(out),
        "checkpoint_dir": str(out.parent / f"ckpt-{out.name}"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("zero", ["zero2", "zero3"])
def test_two_rank_zero_training_on_cpu(world, tmp_path, monkeypatch, zero):
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    monkeypatch.setenv("DISABLE_MLFLOW_INTEGRATION", "TRUE")
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    root, paths = world
    before = {k: v.clone() for k, v in mb.load_pretrained(root / "models/backbone")[0].state_dict().items()}
    out = tmp_path / zero
    summary = spawn(_job(root, paths, zero, out), world_size=2, scratch=tmp_path / f"spawn-{zero}", timeout_s=900)
    assert summary["deepspeed"] is True and summary["zero_stage"] == int(zero[-1]) and summary["steps"] == 2
    assert summary["heldout_loss"] == summary["heldout_loss"]  # finite: the gathered model evaluates
    trained, _ = mb.load_pretrained(out)  # a full checkpoint: ZeRO-3 partitions were gathered on save
    after = trained.state_dict()
    assert set(after) == set(before)
    assert all(after[k].shape == before[k].shape for k in before)
    assert sum(int(not torch.equal(before[k], after[k])) for k in before) > 0
    assert not Path(_job(root, paths, zero, out)["checkpoint_dir"]).exists()
