"""Configuration: Hydra composes `conf/`, `params.yaml` holds the chosen run.

`conf/` is the library of options (one YAML per choice in each group);
`params.yaml` is the resolved experiment that DVC tracks key by key, so a
changed parameter reruns exactly the stages that read it. Every consumer
(CLI, Dagster, DVC stage commands, tests) goes through `compose()` or
`load_params()`; nobody uses `@hydra.main`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence, TypeVar

from omegaconf import DictConfig, OmegaConf

from musicflamingo.io import atomic_write_text

PARAMS_FILE = "params.yaml"
M = TypeVar("M")


def package_conf_dir() -> Path:
    """`conf/` of the checkout this package was installed from (editable install)."""
    env = os.environ.get("MF_CONF_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "conf" / "config.yaml").is_file():
            return parent / "conf"
    raise FileNotFoundError("cannot find conf/config.yaml; set MF_CONF_DIR")


def compose(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides such as `experiment=smoke`.

    The result is checked against the typed configs (`musicflamingo.configs`): a wrong type,
    an out-of-range value or an impossible combination raises `ConfigError` here, before any compute."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir or package_conf_dir())):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    OmegaConf.resolve(cfg)
    from musicflamingo import configs

    configs.validate(cfg)
    return cfg


def typed(model: type[M], key: str, overrides: Sequence[str] = (), **changes: Any) -> M:
    """conf/'s `key` section (e.g. `typed(Grpo, "train.grpo", num_generations=3)`) as its typed model,
    with `changes` on top: tests and benchmarks take their settings from the one place values live."""
    from musicflamingo import configs

    node = OmegaConf.to_container(select(compose(overrides), key), resolve=True)
    return configs.parse(model, {**node, **changes}, key)


def write_params(cfg: DictConfig, root: Path) -> Path:
    """Write the resolved experiment to `<root>/params.yaml` (atomically)."""
    path = root / PARAMS_FILE
    header = "# Written by `musicflamingo configure`; edit here or re-run configure with overrides.\n"
    atomic_write_text(path, header + OmegaConf.to_yaml(cfg, sort_keys=False))
    return path


def load_params(root: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Load `<root>/params.yaml`, applying dotted `key=value` overrides on top."""
    path = root / PARAMS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run `musicflamingo configure` first")
    cfg = OmegaConf.load(path)
    dotted = []
    for item in overrides:
        # `llm=openai` picks a config-group option, as in `configure`: the node is replaced by conf/llm/openai.yaml.
        key, _, value = item.partition("=")
        option = _group_option(key.strip(), value.strip())
        if option is None:
            dotted.append(item)
        elif option[1]:  # `# @package _global_` (an experiment): merged at the root, as Hydra does
            cfg = OmegaConf.merge(cfg, option[0])
        else:
            cfg[key.strip()] = option[0]
    if dotted:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(dotted))
    return cfg  # type: ignore[return-value]


def _group_option(group: str, choice: str) -> tuple[DictConfig, bool] | None:
    """(conf/<group>/<choice>.yaml without its Hydra `defaults`, whether it is a `_global_` package) when `group`
    is a plain config group of `conf/config.yaml` and the option exists; else None."""
    if not group or "." in group or "@" in group or not choice:
        return None
    try:
        conf = package_conf_dir()
    except FileNotFoundError:
        return None
    path = conf / group / f"{choice}.yaml"
    if not path.is_file() or group not in _plain_groups(conf):
        return None
    node = OmegaConf.load(path)
    if isinstance(node, DictConfig) and "defaults" in node:
        del node["defaults"]
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    return node, any(line.strip() == "# @package _global_" for line in head)  # type: ignore[return-value]


def _plain_groups(conf: Path) -> set[str]:
    """Groups the root config selects under their own name (`- llm: builtin`; not `train@train.sft`)."""
    defaults = OmegaConf.load(conf / "config.yaml").get("defaults") or []
    return {k for entry in defaults if isinstance(entry, DictConfig) for k in entry if "@" not in k}


def select(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, throw_on_missing=True)
    if value is None:
        raise KeyError(f"params key {key!r} is missing")
    return value


def section_hash(cfg: DictConfig, *keys: str) -> str:
    """Stable hash of some config sections: cache keys change only when these do."""
    values = {k: select(cfg, k) for k in keys}
    payload = {k: OmegaConf.to_container(v, resolve=True) if isinstance(v, DictConfig) else v for k, v in values.items()}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]

