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
