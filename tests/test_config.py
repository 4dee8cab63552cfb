import pytest
from omegaconf import OmegaConf

from musicflamingo.config import compose, load_params, section_hash
from tests.conftest import REPO


def test_committed_params_yaml_is_the_default_experiment():
    committed = OmegaConf.load(REPO / "params.yaml")
    assert OmegaConf.to_container(committed) == OmegaConf.to_container(compose([]))


def test_smoke_experiment_shrinks_the_run(smoke_cfg):
    assert smoke_cfg.experiment == "smoke"
    assert smoke_cfg.data.demo.num_pieces <= 4
    assert compose([]).data.demo.num_pieces >= 24


@pytest.mark.parametrize("profile", ["tiny", "af3", "music_flamingo"])
def test_every_model_profile_composes(profile):
    cfg = compose([f"model={profile}"])
    assert cfg.model.profile == profile


def test_overrides_apply_on_top_of_params(tmp_path, smoke_cfg):
    from musicflamingo.config import write_params

    write_params(smoke_cfg, tmp_path)
    cfg = load_params(tmp_path, ["mir.jobs=1"])
    assert cfg.mir.jobs == 1 and cfg.experiment == "smoke"


def test_section_hash_tracks_only_its_sections(smoke_cfg):
    other = OmegaConf.merge(smoke_cfg, {"train": {"sft": {"learning_rate": 1.0}}})
    assert section_hash(smoke_cfg, "mir") == section_hash(other, "mir")
    changed = OmegaConf.merge(smoke_cfg, {"mir": {"key": {"profile": "edma"}}})
    assert section_hash(smoke_cfg, "mir") != section_hash(changed, "mir")


# --- typed configs (musicflamingo.configs): conf/ and params.yaml against the schema ---

CONF = REPO / "conf"
PLAIN_GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("experiment", "train"))


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "override",
    [f"{g}={o}" for g in PLAIN_GROUPS for o in _options(g)] + [f"experiment={e}" for e in _options("experiment")],
)
def test_every_conf_option_and_experiment_validates(override):
    from musicflamingo import configs

    params = configs.validate(compose([override]))  # compose validates too; this names the model
    assert params.seed == compose([]).seed


def test_every_train_option_is_used_and_validates():
    """conf/train/<x>.yaml is bound to train.<x> (train@train.<x>); each is validated as its stage's model."""
    from musicflamingo import configs

    params = configs.validate(OmegaConf.load(REPO / "params.yaml"))
    assert set(_options("train")) == set(type(params.train).model_fields)


def test_models_hold_no_values():
    """The models give types, bounds and help; conf/ gives values. A non-None default would be a second copy."""
    from pydantic import BaseModel
    from pydantic_core import PydanticUndefined

    from musicflamingo import configs

    seen, todo, second_copies, undocumented = set(), [configs.Params], [], []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if field.default is not PydanticUndefined and field.default is not None:
                second_copies.append(f"{model.__name__}.{name}={field.default!r}")
            if not field.description and not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
                undocumented.append(f"{model.__name__}.{name}")
            for arg in _types(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    todo.append(arg)
    assert len(seen) > 30
    assert not second_copies and not undocumented, (second_copies, undocumented)


def _types(annotation):
    from typing import get_args

    yield annotation
    for arg in get_args(annotation):
        yield from _types(arg)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.grpo.num_generations=1", "train.grpo.num_generations"),
        ("train.grpo.learning_rate=0", "train.grpo.learning_rate"),
        ("train.grpo.epsilon=1.5", "train.grpo.epsilon"),
        ("+train.grpo.reward_weights.lenght=1.0", "train.grpo.reward_weights.lenght"),
        ("train.sft.warmup_ratio=1.2", "train.sft.warmup_ratio"),
        ("train.sft.max_steps=0", "max_steps must be positive or -1"),
        ("train.coldstart.lora.enabled=true", "select_best with LoRA"),
        ("train.backbone.heldout=99", "train.backbone.heldout"),
        ("skills.heldout_fraction=1.0", "skills.heldout_fraction"),
        ("think.fraction=-0.1", "think.fraction"),
        ("data.min_duration_s=2000", "min_duration_s"),
        ("data.demo.num_pieces=500", "num_pieces (500) exceeds corpus_size"),
        ("mir.beats.min_bpm=300", "beats.min_bpm"),
        ("mir.vocals.no_probability=0.95", "vocals.no_probability"),
        ("mir.asr.backend=whisperx", "mir.asr.backend"),
        ("model.source=local", "model.source=local needs model.path"),
        ("model.text.heads=5", "must divide evenly"),
        ("eval.think_for=[grpo,sft2]", "eval.think_for"),
        ("+train.grpo.learning_rat=1e-4", "train.grpo.learning_rat"),  # a typo is refused, not ignored
    ],
)
def test_impossible_settings_are_refused_before_any_compute(override, message):
    from musicflamingo.configs import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.").replace("[", r"\[")):
        compose([override])


def test_llm_api_key_in_config_is_refused():
    from musicflamingo.configs import ConfigError

    with pytest.raises(ConfigError, match="api_key_env"):
        compose(["llm=openai", "+llm.api_key=sk-secret"])


def test_grpo_reward_names_are_the_implemented_rewards():
    from typing import get_args

    from musicflamingo.configs import RewardName
    from musicflamingo.train import rewards

    assert set(get_args(RewardName)) == set(rewards.REWARDS)


def test_typed_takes_values_from_conf():
    from musicflamingo.config import typed
    from musicflamingo.configs import Grpo

    g = typed(Grpo, "train.grpo", num_generations=3)
    conf = OmegaConf.load(CONF / "train/grpo.yaml")
    assert g.num_generations == 3 and g.max_new_tokens == conf.max_new_tokens and g.learning_rate == conf.learning_rate


def test_configure_refuses_a_bad_value_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from musicflamingo.cli import main

    monkeypatch.setenv("MF_ROOT", str(tmp_path))
    assert main(["configure", "train.grpo.num_generations=1", "think.fraction=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train.grpo.num_generations" in err and "think.fraction" in err
    assert not (tmp_path / "params.yaml").exists()
