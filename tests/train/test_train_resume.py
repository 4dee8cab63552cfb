"""Killing a training stage and starting it again resumes from its last checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.testing.fixtures import write_fixture

ROOT = Path(__file__).resolve().parents[2]
STEPS = 8

CHILD = """
import json, sys
from pathlib import Path
from omegaconf import OmegaConf
from musicflamingo.train import data as td
from musicflamingo.train.sft import train_supervised
root, ckpt, out = map(Path, sys.argv[1:4])
cfg = OmegaConf.create(json.loads(sys.argv[4]))
s = train_supervised(cfg, "sft", root / "models/backbone", td.load_records(root / "data/mf_skills/train.jsonl"),
                     [], root, out, ckpt, log=lambda m: print(m, flush=True))
print("SUMMARY " + json.dumps(s), flush=True)
"""


def _cfg() -> dict:
    stage = OmegaConf.merge(
        OmegaConf.load(ROOT / "conf/train/sft.yaml"),
        {"epochs": 100, "max_steps": STEPS, "per_device_batch_size": 1, "save_steps": 2, "logging_steps": 1,
         "deepspeed": False, "max_length": 512, "warmup_ratio": 0.0},
    )
    return {"seed": 0, "model": OmegaConf.to_container(small_model_cfg()),
            "train": {"sft": OmegaConf.to_container(stage)}, "deepspeed": {}}


def _start(root: Path, ckpt: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "DISABLE_MLFLOW_INTEGRATION": "TRUE", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(ckpt), str(out), json.dumps(_cfg())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )


@pytest.mark.slow
def test_killed_stage_resumes_from_its_last_checkpoint(tmp_path):
    root = tmp_path / "root"
    write_fixture(root, n_tracks=3, seconds=1.0)
    mb.build_tiny(small_model_cfg(), root / "models/backbone", seed=0)
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"

    first = _start(root, ckpt, out)
    deadline = time.monotonic() + 600
    try:
        while not any((c / "trainer_state.json").is_file() for c in ckpt.glob("checkpoint-*")):
            assert first.poll() is None, "training ended before it could be killed:\n" + first.stdout.read()
            assert time.monotonic() < deadline, "no checkpoint within 600 s"
            time.sleep(0.2)
        time.sleep(0.5)  # let the checkpoint's files finish
        os.killpg(first.pid, signal.SIGKILL)  # a crash: no clean-up code runs
    finally:
        first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    saved = sorted(int(c.name.split("-")[1]) for c in ckpt.glob("checkpoint-*") if (c / "trainer_state.json").is_file())
    assert saved and not (out / "model.safetensors").exists()

    second = _start(root, ckpt, out)
    log, _ = second.communicate(timeout=900)
    assert second.returncode == 0, log
    m = re.search(r"resuming from .*checkpoint-(\d+)", log)
    assert m, log
    resumed_at = int(m.group(1))
    assert resumed_at >= saved[0]
    summary = json.loads(log.split("SUMMARY ", 1)[1])
    assert summary["steps"] == STEPS
    # only the remaining steps were trained: one logged loss per step after the checkpoint
    assert len(re.findall(r"\{'loss'", log)) == STEPS - resumed_at
    assert (out / "model.safetensors").is_file() and not ckpt.exists()
