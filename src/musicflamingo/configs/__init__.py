"""Typed stage configs: one pydantic model per `params.yaml` section.

`conf/` holds every value (Hydra composes it into `params.yaml`); these models
hold the rest: each key's type, bounds and help text, and the combinations
that are impossible (rejected before any compute, as TRL's `GRPOConfig`
does). A model field has no default, so no value exists in two places.

    validate(cfg) -> Params          # raises ConfigError naming every bad key
    parse(Grpo, cfg.train.grpo)      # one section, typed (e.g. the GRPO trainer's settings)
    Params.model_json_schema()       # the documented schema of params.yaml
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, Field, ValidationError

from musicflamingo.configs.base import Section
from musicflamingo.configs.data import Data, Skills, Think
from musicflamingo.configs.evaluation import Eval
from musicflamingo.configs.llm import Llm
from musicflamingo.configs.mir import Mir
from musicflamingo.configs.model import Model
from musicflamingo.configs.train import DeepSpeed, Grpo, RewardName, Train


class Params(Section):
    """The whole run: what `musicflamingo configure` writes to params.yaml."""

    data: Data
    mir: Mir
    llm: Llm = Field(description="The chat backend writing MF-Skills and MF-Think: builtin, openai or transformers (conf/llm).")
    skills: Skills
    think: Think
    model: Model
    train: Train
    deepspeed: DeepSpeed
    eval: Eval
    experiment: str = Field(min_length=1, description="conf/experiment option; names the MLflow experiment music-flamingo/<experiment>.")
    seed: int = Field(description="Seed of every random choice (splits, sampling, initialisation).")


class ConfigError(ValueError):
    """params.yaml or an override breaks the schema; the message (one line) names each bad key and why."""


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], node: DictConfig | Mapping, where: str = "") -> M:
    """`node` (a DictConfig or dict) as the typed `model`; raises ConfigError naming each bad key under `where`."""
    data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = f"{where}." if where else ""
        problems = [f"{prefix}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def validate(cfg: DictConfig | Mapping) -> Params:
    """Check a whole composed config against `Params` (types, bounds, cross-field rules); raises ConfigError."""
    return parse(Params, cfg)


__all__ = ["Params", "ConfigError", "validate", "parse", "Grpo", "RewardName"]
