"""Launchers, cluster templates, DeepSpeed configs and the GPU check: syntax and CPU behaviour."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHELL = ["infra/train/launch_single_node.sh", "infra/train/slurm_multinode.sbatch", "benchmarks/gpu_check.sh"]


@pytest.mark.parametrize("script", SHELL)
def test_shell_scripts_parse(script):
    res = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def test_k8s_job_is_an_indexed_job_with_a_headless_rendezvous_service():
    docs = list(yaml.safe_load_all((ROOT / "infra/train/k8s-deepspeed-job.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert kinds["Service"]["spec"]["clusterIP"] == "None"  # cluster-internal only
    job = kinds["Job"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
    cmd = " ".join(job["template"]["spec"]["containers"][0]["args"])
    assert "torchrun" in cmd and "--node_rank" in cmd and "musicflamingo stage" in cmd


@pytest.mark.parametrize("stage, zero", [("zero2", 2), ("zero3", 3)])
def test_deepspeed_configs_leave_batch_and_precision_to_the_trainer(stage, zero):
    conf = yaml.safe_load((ROOT / f"conf/deepspeed/{stage}.yaml").read_text())
    assert conf["zero_optimization"]["stage"] == zero
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping", "train_batch_size"):
        assert conf[key] == "auto", key
    assert conf["bf16"]["enabled"] == "auto"
    if zero == 3:
        assert conf["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_gpu_check_on_cpu_says_so_and_exits_cleanly():
    res = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_check.sh")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "no CUDA GPU" in res.stdout


def test_gpu_check_fits_the_decoder_depth_to_memory():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks/gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.fitting_layers(80 * 2**30) < 28 <= mod.fitting_layers(10**13)
    assert mod.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
