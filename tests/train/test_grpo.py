"""Audio-aware GRPO: audio reaches generation and both log-prob passes; steps update the policy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.model import inputs as mi
from musicflamingo.testing.fixtures import THINK_INSTRUCTION, isolated_mlflow, write_fixture
from musicflamingo.train import data as td
from musicflamingo.config import typed
from musicflamingo.configs import Grpo
from musicflamingo.train.grpo import AudioGRPO, completion_logprobs, completion_mask, group_advantages
from musicflamingo.train.stages import grpo_prompts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    paths = write_fixture(root, n_tracks=3, seconds=1.5)
    mb.build_tiny(small_model_cfg(), root / "models/coldstart", seed=0)
    return root, paths


def _trainer(world, reward_fn=None, **overrides):
    root, paths = world
    policy, processor = mb.load_pretrained(root / "models/coldstart")
    settings = typed(Grpo, "train.grpo", **{"num_generations": 3, "max_new_tokens": 6, "learning_rate": 1e-2, "beta": 0.04, **overrides})
    records = td.load_records(paths["train"], task="mcq")
    prompts = grpo_prompts(records[:2], processor, mi.AudioLoader(root, 30.0), THINK_INSTRUCTION)
    return AudioGRPO(policy, processor, settings, reward_fn=reward_fn), prompts


def _length_reward(texts, **columns):
    """A reward with spread inside every group, so advantages are non-zero."""
    r = [float(len(t)) for t in texts]
    return r, {"length": r}


def test_completion_mask_stops_after_first_eos():
    ids = torch.tensor([[5, 6, 2, 0, 0], [5, 2, 7, 2, 0], [5, 6, 7, 8, 9]])
    assert completion_mask(ids, eos_id=2).tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_group_advantages_are_normalised_per_group():
    r = torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0, 2.0])
    a = group_advantages(r, group_size=3, eps=1e-4)
    assert a[:3].sum().abs() < 1e-5 and a[0] > 0 > a[1]
    assert torch.allclose(a[:3], (r[:3] - r[:3].mean()) / (r[:3].std() + 1e-4))
    assert torch.equal(a[3:], torch.zeros(3))  # no spread, no signal


def test_prompts_carry_the_think_instruction_and_the_key(world):
    trainer, prompts = _trainer(world)
    assert all(p.text.rstrip().endswith("<|im_start|>assistant") for p in prompts)
    assert all(THINK_INSTRUCTION in p.text and p.answer_letter in "ABCD" and len(p.options) == 4 for p in prompts)


def test_audio_reaches_generation(world):
    trainer, prompts = _trainer(world)
    seen = []

    def spy(module, args, kwargs):
        feats = kwargs.get("input_features")
        seen.append(None if feats is None else tuple(feats.shape))

    handle = trainer.policy.register_forward_pre_hook(spy, with_kwargs=True)
    try:
        r = trainer.rollout(prompts)
    finally:
        handle.remove()
    n = len(prompts) * trainer.s.num_generations
    assert seen and seen[0] == (n, 80, 3000)  # the prefill step encodes the audio of every sample
    assert r.completion_ids.shape[0] == n and len(r.texts) == n


def test_changing_audio_changes_policy_and_reference_logprobs(world):
    trainer, prompts = _trainer(world)
    torch.manual_seed(0)
    r = trainer.rollout(prompts)
    with torch.no_grad():
        policy_a = trainer.logprobs(trainer.policy, r)
        ref_a = trainer.logprobs(trainer.reference, r)
        r.batch = {**r.batch, "input_features": torch.randn_like(r.batch["input_features"])}
        policy_b = trainer.logprobs(trainer.policy, r)
        ref_b = trainer.logprobs(trainer.reference, r)
    m = r.completion_mask.bool()
    assert torch.isfinite(policy_a[m]).all()
    assert not torch.allclose(policy_a[m], policy_b[m])
    assert not torch.allclose(ref_a[m], ref_b[m])
    # same audio, same weights (reference is a frozen copy): identical scores
    assert torch.allclose(policy_a, ref_a)


def test_grpo_steps_change_params(world):
    trainer, prompts = _trainer(world, reward_fn=_length_reward)
    before = {k: v.detach().clone() for k, v in trainer.policy.named_parameters()}
    ref_before = {k: v.detach().clone() for k, v in trainer.reference.named_parameters()}
    torch.manual_seed(0)
    history = [trainer.step(prompts) for _ in range(2)]
    changed = sum(int(not torch.equal(before[k], v.detach())) for k, v in trainer.policy.named_parameters())
    assert changed > 0
    assert all(torch.equal(ref_before[k], v) for k, v in trainer.reference.named_parameters())  # frozen
    for h in history:
        for key in ("loss", "kl", "clip_frac", "reward", "reward_length", "rollouts_per_s"):
            assert key in h and h[key] == h[key]  # present and not NaN
        assert h["kl"] >= 0.0 and 0.0 <= h["clip_frac"] <= 1.0
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # policy == reference before the first update
    assert history[1]["kl"] > 0.0


def test_multiple_iterations_use_old_logprobs_and_clip(world):
    trainer, prompts = _trainer(world, reward_fn=_length_reward, num_iterations=3, learning_rate=5e-2, epsilon=0.05)
    torch.manual_seed(1)
    m = trainer.step(prompts)
    assert m["clip_frac"] > 0.0  # later iterations move the ratio out of [1 - eps, 1 + eps]


def test_run_grpo_stage_logs_per_step_metrics(world, monkeypatch):
    from mlflow.tracking import MlflowClient

    from musicflamingo import registry
    from musicflamingo.stage import StageContext
    from musicflamingo.train.stages import run_grpo

    root, _ = world
    isolated_mlflow(monkeypatch, root)
    params = OmegaConf.load(ROOT / "params.yaml")
    grpo = OmegaConf.merge(
        params.train.grpo,
        {"steps": 2, "prompts_per_step": 1, "num_generations": 2, "max_new_tokens": 4, "reward_probe": {"prompts": 2, "every": 1}},
    )
    cfg = OmegaConf.create(
        {
            "experiment": "test",
            "seed": 0,
            "model": small_model_cfg(),
            "train": {"grpo": grpo},
        }
    )
    ctx = StageContext(root=root, stage=registry.get("grpo"))
    summary = run_grpo(cfg, ctx)
    assert summary["steps"] == 2 and summary["rollouts"] == 4
    assert (ctx.out / "model.safetensors").is_file()
    client = MlflowClient()
    for key in ("reward", "reward_format", "reward_accuracy", "reward_structured", "kl", "clip_frac", "loss", "rollouts_per_s"):
        assert len(client.get_metric_history(summary["mlflow_run_id"], key)) == 2, key
    assert "grpo/grpo_reward.png" in {a.path for a in client.list_artifacts(summary["mlflow_run_id"], "grpo")}
    assert {"reward_start", "reward_end", "reward_structured_mean"} <= set(summary)
    # the fixed-prompt probe: before training (step 0) and after every step
    assert [m.step for m in client.get_metric_history(summary["mlflow_run_id"], "probe_reward")] == [0, 1, 2]
    assert {"probe_reward_start", "probe_reward_end"} <= set(summary)
    assert str(client.get_model_version_by_alias("music-flamingo", "grpo").version) == summary["model_version"]


def test_logprobs_match_the_sampling_distribution(world):
    """The scoring pass (left-padded prompts of different lengths, audio) reproduces generate()'s log-probs."""
    trainer, prompts = _trainer(world)
    proc, model = trainer.processor, trainer.policy
    prompts = [
        prompts[0],
        dataclasses.replace(prompts[1], text=prompts[1].text.replace("What is", "Tell me, please, what is")),
    ]
    batch = mi.model_inputs(mi.encode_prompts(proc, [p.text for p in prompts], [p.audio for p in prompts]))
    assert batch["attention_mask"].sum(1).unique().numel() == 2  # really left-padded
    torch.manual_seed(0)
    out = model.generate(
        **batch,
        max_new_tokens=5,
        do_sample=True,
        top_k=0,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=proc.tokenizer.pad_token_id,
        eos_token_id=proc.tokenizer.eos_token_id,
    )
    new = out.sequences[:, batch["input_ids"].shape[1] :]
    sampled = (
        torch.stack([torch.log_softmax(x.float(), -1) for x in out.logits], 1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
    )
    mask = completion_mask(new, proc.tokenizer.eos_token_id)
    with torch.no_grad():
        scored = completion_logprobs(model, batch, new, mask, temperature=1.0)
    assert torch.allclose(sampled[mask.bool()], scored[mask.bool()], atol=1e-4)
