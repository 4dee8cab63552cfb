"""The stage contract: a stage sees only the params it declares, and dvc.yaml lists exactly what it reads.

- `run_stage` hands the entry point `declared_params(cfg, stage)`: an undeclared key raises on read.
- dvc.yaml's code deps are each stage's import closure (`musicflamingo.imports`), its params the declared keys:
  every (stage, module) and (stage, params key) pair is checked against the generated dvc.yaml, and one
  real `dvc status` round trip shows that touching a module or changing a key reports exactly the stages
  that depend on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from musicflamingo import dvcgen, imports, registry
from musicflamingo.registry import HARNESS, PKG
from musicflamingo.stage import UndeclaredParam, declared_params, run_stage
from tests.conftest import REPO


def _params() -> OmegaConf:
    return OmegaConf.load(REPO / "params.yaml")


def _leaf_keys(node, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in _leaf_keys(v, f"{prefix}.{key}" if prefix else str(key))]
    return [prefix]


def _covered(key: str, declared) -> bool:
    return any(key == d or key.startswith(d + ".") for d in declared)


# --- declared inputs, enforced ---


def test_an_undeclared_read_fails_loudly_in_every_form():
    view = declared_params(_params(), registry.get("sft"))
    assert view.train.sft.learning_rate == _params().train.sft.learning_rate and view.model.max_audio_s > 0
    reads = [
        lambda: view.mir.jobs,
        lambda: view["llm"],
        lambda: view.get("eval", {}),  # a default does not hide it
        lambda: view.model.profile,  # a sibling of the declared model.max_audio_s
        lambda: view.train.grpo.steps,
        lambda: OmegaConf.select(view, "train.coldstart.epochs"),
    ]
    for read in reads:
        with pytest.raises(Exception, match="does not declare") as err:
            read()
        assert UndeclaredParam.__name__ in str(err.value)


def test_the_view_is_read_only():
    view = declared_params(_params(), registry.get("grpo"))
    with pytest.raises(Exception):
        view.train.grpo.steps = 99


def entry_reading_mir(cfg, ctx):  # a stage entry point for the test below
    return {"jobs": cfg.mir.jobs}


def entry_reading_seed(cfg, ctx):
    return {"seed": cfg.seed}


@pytest.mark.parametrize("entry, ok", [("entry_reading_seed", True), ("entry_reading_mir", False)])
def test_run_stage_hands_the_entry_only_its_declared_params(tmp_path, monkeypatch, entry, ok):
    stage = registry.Stage(name="probe", description="test", group="data", entry=f"tests.test_stage_contract:{entry}", params=("seed",))
    monkeypatch.setitem(registry.BY_NAME, "probe", stage)
    if ok:
        assert run_stage("probe", _params(), tmp_path)["seed"] == _params().seed
    else:
        with pytest.raises(Exception, match="stage probe reads params key 'mir'"):
            run_stage("probe", _params(), tmp_path)
        assert not (tmp_path / "data/probe").exists()  # nothing published


def test_run_stage_validates_before_running(tmp_path, monkeypatch):
    from musicflamingo.configs import ConfigError

    stage = registry.Stage(name="probe", description="test", group="data", entry="tests.test_stage_contract:entry_reading_seed", params=("seed",))
    monkeypatch.setitem(registry.BY_NAME, "probe", stage)
    bad = OmegaConf.merge(_params(), {"train": {"grpo": {"num_generations": 1}}})
    with pytest.raises(ConfigError, match="train.grpo.num_generations"):
        run_stage("probe", bad, tmp_path)


def test_every_declared_params_key_exists():
    params = _params()
    for s in registry.STAGES:
        for key in s.params:
            assert OmegaConf.select(params, key, default="<absent>") != "<absent>", f"{s.name} declares {key}, not in params.yaml"


# --- dvc.yaml lists exactly what each stage depends on ---


def test_imports_closure_follows_lazy_imports_and_parent_packages():
    direct = imports.imports("musicflamingo.train.stages")
    assert "musicflamingo.train.probe" in direct  # imported inside a function
    assert "musicflamingo.train" in direct and "musicflamingo" in direct  # parent packages run first
    assert "musicflamingo.data.formats" in imports.closure("musicflamingo.train.stages")
    assert "prompts" in imports.files(imports.closure("musicflamingo.data.skills_stage"))  # package data
    assert "musicflamingo.mir.stage" not in imports.closure("musicflamingo.train.stages")


def test_dvc_yaml_deps_are_exactly_the_import_closure_and_declared_params(capsys):
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    all_files = imports.files(set(imports.modules()))
    leaves = _leaf_keys(OmegaConf.to_container(_params()))
    module_pairs = param_pairs = 0
    for s in registry.STAGES:
        deps = set(doc[s.name]["deps"])
        reads = set(imports.files(imports.closure(s.entry_module, HARNESS)))
        for f in all_files:  # every (stage, module) pair: listed iff in the closure
            assert (f"{PKG}/{f}" in deps) == (f in reads), (s.name, f)
            module_pairs += 1
        listed = doc[s.name]["params"]
        for key in leaves:  # every (stage, key) pair: tracked iff declared (the only keys the stage can read)
            assert _covered(key, listed) == _covered(key, s.params), (s.name, key)
            param_pairs += 1
        assert not [d for d in deps if d.startswith(PKG) and d.removeprefix(PKG + "/") not in reads]
    undeclared = 0  # a read outside the declared keys raises (test above), so none can be missing from dvc.yaml
    with capsys.disabled():
        print(f"\nstage contract: {module_pairs} (stage, module) and {param_pairs} (stage, param) pairs checked, {undeclared} undeclared")
    assert module_pairs == len(registry.STAGES) * len(all_files) and param_pairs == len(registry.STAGES) * len(leaves)


def _dvc(root: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(root / ".dvc-site")}
    out = subprocess.run([str(Path(sys.executable).with_name("dvc")), *args], cwd=root, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _changed(root: Path) -> set[str]:
    return {name.split(":")[-1] for name in json.loads(_dvc(root, "status", "--json") or "{}")}


def test_dvc_status_round_trip_reports_exactly_the_dependent_stages(tmp_path):
    """The generated dvc.yaml in a scratch project: outs exist (`dvc commit`, nothing runs), then a touched
    module and a changed key are each reported for exactly the stages whose closure / declared keys hold them."""
    root = tmp_path
    shutil.copytree(REPO / PKG, root / PKG, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "dvc.yaml").write_text(dvcgen.render())
    (root / "audio_in").mkdir()
    for s in registry.STAGES:
        for out in (s.out, *s.extra_outs):
            p = root / out
            if Path(out).suffix:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(s.name)
            else:
                p.mkdir(parents=True)
                (p / "x").write_text(s.name)
        for m in (s.metrics_file, *s.metrics):
            (root / m).parent.mkdir(parents=True, exist_ok=True)
            (root / m).write_text("{}")
    _dvc(root, "init", "--no-scm", "-q")
    _dvc(root, "commit", "-f", "-q")
    assert _changed(root) == set()

    module = "musicflamingo.train.rewards"
    with open(root / PKG / imports.modules()[module].relative_to(imports.SRC), "a") as f:
        f.write("\n# touched\n")
    expected = {s.name for s in registry.STAGES if module in imports.closure(s.entry_module, HARNESS)}
    assert expected and expected != {s.name for s in registry.STAGES}
    assert _changed(root) == expected
    _dvc(root, "commit", "-f", "-q")

    params = OmegaConf.load(root / "params.yaml")
    params.train.grpo.reward_weights.format = 2.0
    (root / "params.yaml").write_text(OmegaConf.to_yaml(params))
    assert _changed(root) == {"coldstart", "grpo", "eval"}  # the keys' declared readers
