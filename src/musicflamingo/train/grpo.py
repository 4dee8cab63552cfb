"""Audio-aware GRPO: the loop is ours because TRL's GRPOTrainer drops audio inputs.

One step (`AudioGRPO.step(prompts)`):
1. Rollout: every prompt is repeated G (`num_generations`) times and sampled
   with `generate`, passing `input_features` / `input_features_mask`, so the
   audio conditions the samples.
2. Rewards: `reward_fn(texts, answer_letter=[...], options=[...],
   truth=[...]) -> (total, parts)`, one column value per completion
   (default `rewards.combined_reward` with the configured weights: format,
   accuracy and structured thinking against the track's structured truth).
3. Advantages, per group of G: `(r - mean) / (std + eps)` (unbiased std).
4. Log-probs of the sampled completion tokens under the policy (with grad),
   the "old" policy (the sampling-time policy; for `num_iterations == 1` that
   is the detached current policy) and the frozen reference. All three
   passes get the same audio features as generation did.
5. Loss per token: `-min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) +
   beta * KL`, with the k3 estimator `KL = exp(ref - logp) - (ref - logp) - 1`;
   averaged over each completion's tokens (completion mask: up to and
   including the first end-of-turn token), then over completions. Repeated
   `num_iterations` times on the same rollouts (clipping keeps it on-policy).

Contract of the public helpers:
- `completion_logprobs(model, batch, completion_ids, completion_mask,
  temperature)` -> (N, C) log-probabilities of `completion_ids` given the
  prompt batch (with its audio). The logits are divided by the sampling
  temperature so that ratios and KL refer to the sampling distribution.
- `group_advantages(rewards, group_size, eps)` -> tensor of advantages.
- `completion_mask(ids, eos_id)` -> float mask, 1 up to and including the
  first `eos_id`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from musicflamingo.model import inputs as mi
from musicflamingo.train import rewards as rw


@dataclass
class GRPOSettings:
    num_generations: int = 4
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    learning_rate: float = 5e-4
    epsilon: float = 0.2
    beta: float = 0.04
    num_iterations: int = 1
    reward_weights: dict = field(default_factory=lambda: dict(rw.DEFAULT_WEIGHTS))
    max_grad_norm: float = 1.0
    adv_eps: float = 1e-4

    def __post_init__(self):
        # Reject impossible settings before any compute is spent.
        if self.num_generations < 2:
            raise ValueError("GRPO needs num_generations >= 2 (advantages are relative to the group)")
        if not 0.0 < self.epsilon < 1.0:
            raise ValueError(f"epsilon (clip range) must be in (0, 1), got {self.epsilon}")
        if self.beta < 0.0:
            raise ValueError(f"beta (KL weight) must be >= 0, got {self.beta}")
        if self.num_iterations < 1 or self.max_new_tokens < 1:
            raise ValueError("num_iterations and max_new_tokens must be >= 1")
        unknown = set(self.reward_weights) - set(rw.REWARDS)
        if unknown or not self.reward_weights:
            raise ValueError(f"reward_weights must name some of {list(rw.REWARDS)}, got {dict(self.reward_weights)}")

    @classmethod
    def from_cfg(cls, c) -> GRPOSettings:
        from omegaconf import OmegaConf

        weights = (
            OmegaConf.to_container(c.reward_weights, resolve=True)
            if not isinstance(c.reward_weights, dict)
            else dict(c.reward_weights)
        )
        return cls(
            num_generations=int(c.num_generations),
            max_new_tokens=int(c.max_new_tokens),
            temperature=float(c.temperature),
            top_p=float(c.top_p),
            learning_rate=float(c.learning_rate),
            epsilon=float(c.epsilon),
            beta=float(c.beta),
            num_iterations=int(c.num_iterations),
            reward_weights={k: float(v) for k, v in weights.items()},
            max_grad_norm=float(c.get("max_grad_norm", 1.0)),
            adv_eps=float(c.get("adv_eps", 1e-4)),
        )


@dataclass
class Prompt:
    """One GRPO prompt: the templated text, its audio (16 kHz mono) and the key."""

    text: str
    audio: np.ndarray
    answer_letter: str
    options: list[str]
    id: str = ""
    truth: dict | None = None  # structured ground truth of the track, for the structured reward


@dataclass
class Rollout:
    batch: dict  # prompt ids/mask/features for N = prompts x G rows
    completion_ids: torch.Tensor  # (N, C)
    completion_mask: torch.Tensor  # (N, C) float
    texts: list[str]
    rewards: torch.Tensor  # (N,)
    parts: dict[str, list[float]]
    advantages: torch.Tensor  # (N,)


def completion_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    is_eos = ids == eos_id
    first = torch.where(
        is_eos.any(1), is_eos.float().argmax(1), torch.full((ids.shape[0],), ids.shape[1] - 1, device=ids.device)
    )
    return (torch.arange(ids.shape[1], device=ids.device)[None, :] <= first[:, None]).float()


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(1, keepdim=True)
    std = grouped.std(1, keepdim=True)  # unbiased, as in the GRPO paper / TRL
    return ((grouped - mean) / (std + eps)).view(-1)


def completion_logprobs(
    model, batch: dict, completion_ids: torch.Tensor, completion_mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Per-token log-probs (N, C) of `completion_ids` after the prompt batch, audio included."""
    ids = torch.cat([batch["input_ids"], completion_ids], dim=1)
    attn = torch.cat([batch["attention_mask"], completion_mask.to(batch["attention_mask"].dtype)], dim=1)
    # Same positions as generate() gives a left-padded batch.
    position_ids = (attn.long().cumsum(-1) - 1).clamp(min=0)
    c = completion_ids.shape[1]
    out = model(
        input_ids=ids,
        attention_mask=attn,
        position_ids=position_ids,
        input_features=batch["input_features"],
        input_features_mask=batch["input_features_mask"],
        logits_to_keep=c + 1,
        use_cache=False,
    )
    logits = out.logits[:, :-1].float() / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)


RewardFn = Callable[..., tuple[list[float], dict[str, list[float]]]]  # (texts, **columns) -> (total, parts)


class AudioGRPO:
    """Owns the policy, its frozen reference and the optimizer (see module docstring)."""

    def __init__(self, policy, processor, settings: GRPOSettings, reward_fn: RewardFn | None = None, reference=None):
        self.policy, self.processor, self.s = policy, processor, settings
        self.reference = None
        if settings.beta != 0.0:
            self.reference = reference if reference is not None else copy.deepcopy(policy)
            self.reference.eval().requires_grad_(False)
        self.reward_fn = reward_fn or (
            lambda texts, **columns: rw.combined_reward(texts, settings.reward_weights, **columns)
        )
        self.optimizer = torch.optim.AdamW(
            [p for p in policy.parameters() if p.requires_grad], lr=settings.learning_rate, weight_decay=0.0
        )
        self.eos_id = processor.tokenizer.eos_token_id
        self.last_rollout: Rollout | None = None

    @property
    def device(self):
        return next(self.policy.parameters()).device

    @torch.no_grad()
    def rollout(self, prompts: list[Prompt]) -> Rollout:
        g = self.s.num_generations
        # Each prompt encoded G times (groups contiguous): the processor lays out
        # any number of 30 s windows per clip, which a tensor repeat could not.
        rows = [p for p in prompts for _ in range(g)]
        enc = mi.encode_prompts(self.processor, [p.text for p in rows], [p.audio for p in rows])
        batch = {k: v.to(self.device) for k, v in mi.model_inputs(enc).items()}
        self.policy.eval()
        new_ids, _ = mi.generate(
            self.policy,
            self.processor,
            batch,
            max_new_tokens=self.s.max_new_tokens,
            do_sample=True,
            temperature=self.s.temperature,
            top_p=self.s.top_p,
            top_k=0,  # top_k=0: sample the full distribution
        )
        mask = completion_mask(new_ids, self.eos_id)
        tok = self.processor.tokenizer
        texts = [tok.decode(ids[: int(m.sum())], skip_special_tokens=True) for ids, m in zip(new_ids, mask)]
        rows_of = lambda attr: [getattr(p, attr) for p in prompts for _ in range(g)]  # noqa: E731
        total, parts = self.reward_fn(
            texts, answer_letter=rows_of("answer_letter"), options=rows_of("options"), truth=rows_of("truth")
        )
        rewards = torch.tensor(total, dtype=torch.float32, device=self.device)
        return Rollout(batch, new_ids, mask, texts, rewards, parts, group_advantages(rewards, g, self.s.adv_eps))

    def logprobs(self, model, r: Rollout) -> torch.Tensor:
        return completion_logprobs(model, r.batch, r.completion_ids, r.completion_mask, self.s.temperature)

    def update(self, r: Rollout) -> dict:
        """`num_iterations` clipped-objective updates on one rollout; returns the mean metrics."""
        mask = r.completion_mask
        with torch.no_grad():
            ref = self.logprobs(self.reference, r) if self.reference is not None else None
            old = self.logprobs(self.policy, r) if self.s.num_iterations > 1 else None
        adv = r.advantages[:, None]
        eps = self.s.epsilon
        stats: dict[str, list[float]] = {"loss": [], "kl": [], "clip_frac": [], "grad_norm": []}
        self.policy.train()
        for _ in range(self.s.num_iterations):
            logp = self.logprobs(self.policy, r)
            old_lp = old if old is not None else logp.detach()
            ratio = torch.exp(logp - old_lp)
            pg = -torch.min(ratio * adv, torch.clamp(ratio, 1 - eps, 1 + eps) * adv)
            per_token = pg
            if ref is not None:
                delta = ref - logp
                kl = torch.exp(delta) - delta - 1
                per_token = per_token + self.s.beta * kl
            else:
                kl = torch.zeros_like(logp)
            per_seq = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
            loss = per_seq.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.s.max_grad_norm)
            self.optimizer.step()
            clipped = ((ratio < 1 - eps) & (adv < 0)) | ((ratio > 1 + eps) & (adv > 0))
            denom = mask.sum().clamp(min=1)
            stats["loss"].append(float(loss.detach()))
            stats["kl"].append(float((kl.detach() * mask).sum() / denom))
            stats["clip_frac"].append(float((clipped.float() * mask).sum() / denom))
            stats["grad_norm"].append(float(grad_norm))
        self.policy.eval()
        return {k: float(np.mean(v)) for k, v in stats.items()}

    def step(self, prompts: list[Prompt]) -> dict:
        t0 = time.perf_counter()
        r = self.rollout(prompts)
        t_gen = time.perf_counter() - t0
        metrics = self.update(r)
        elapsed = time.perf_counter() - t0
        n = len(r.texts)
        metrics.update(
            reward=float(r.rewards.mean()),
            reward_std=float(r.rewards.view(-1, self.s.num_generations).std(1).mean()),
            completion_tokens=float(r.completion_mask.sum(1).mean()),
            rollouts_per_s=n / elapsed,
            generation_s=t_gen,
            step_s=elapsed,
        )
        for name, values in r.parts.items():
            metrics[f"reward_{name}"] = float(np.mean(values))
        self.last_rollout = r  # texts and rewards, for logging samples
        return metrics
