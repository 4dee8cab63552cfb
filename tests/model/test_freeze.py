"""Per-stage freezing (AF3's stages) and LoRA: which parameters train, and frozen ones stay put."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.model import build as mb
from musicflamingo.model import freeze
from musicflamingo.model import inputs as mi
from musicflamingo.testing.fixtures import write_fixture
from musicflamingo.train import data as td

ROOT = Path(__file__).resolve().parents[2]
AF3_STAGES = {  # NVIDIA's AF3 recipe
    "stage1_projector_only": {"audio_tower": False, "projector": True, "language_model": False},
    "stage2_encoder_projector": {"audio_tower": True, "projector": True, "language_model": False},
    "stage3_full": {"audio_tower": True, "projector": True, "language_model": True},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    paths = write_fixture(root, n_tracks=2, seconds=1.0)
    mb.build_tiny(small_model_cfg(), root / "models/backbone", seed=0)
    model, processor = mb.load_pretrained(root / "models/backbone")
    ds = td.ConversationDataset(td.load_records(paths["train"])[:2], processor, mi.AudioLoader(root, 30.0), 512)
    batch = td.SupervisedCollator(processor.tokenizer.pad_token_id)([ds[0], ds[1]])
    return root, batch


def _model(world):
    return mb.load_pretrained(world[0] / "models/backbone")[0]


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {k.removeprefix("base_model.model."): v.detach().clone() for k, v in model.named_parameters()}


def _one_step(model, batch, lr=1e-2):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    model(**batch).loss.backward()
    opt.step()


@pytest.mark.parametrize("stage", sorted(AF3_STAGES))
def test_af3_stage_freezing_trains_exactly_the_named_parts(world, stage):
    flags = AF3_STAGES[stage]
    model = _model(world)
    counts = freeze.apply_trainable(model, flags)
    for name, p in model.named_parameters():
        assert p.requires_grad == flags[freeze.part_of(name)], name
    assert all((counts[part] > 0) == on for part, on in flags.items())
    before = _snapshot(model)
    _one_step(model, world[1])
    for name, p in model.named_parameters():
        moved = not torch.equal(before[name], p.detach())
        if not flags[freeze.part_of(name)]:
            assert not moved, f"frozen {name} changed"
    trained = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert trained and all(flags[freeze.part_of(n)] for n in trained)


def test_every_parameter_belongs_to_a_part_and_bad_flags_are_rejected(world):
    model = _model(world)
    assert all(freeze.part_of(n) for n, _ in model.named_parameters())
    with pytest.raises(ValueError, match="unknown"):
        freeze.apply_trainable(model, {"decoder": False})
    with pytest.raises(ValueError, match="nothing would train"):
        freeze.apply_trainable(model, dict.fromkeys(freeze.PARTS, False))


@pytest.mark.parametrize("stage", ["sft", "coldstart", "grpo"])
def test_stage_configs_name_valid_parts(world, stage):
    cfg = OmegaConf.load(ROOT / f"conf/train/{stage}.yaml")
    model = freeze.prepare(_model(world), cfg)
    assert freeze.trainable_counts(model)["total"] > 0


def test_lora_trains_adapters_only_and_merges_back_to_a_plain_checkpoint(world, tmp_path):
    base = _model(world)
    plain_names = {n for n, _ in base.named_parameters()}
    cfg = OmegaConf.create(
        {
            "trainable": {"audio_tower": False, "projector": True, "language_model": True},
            "lora": {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        }
    )
    model = freeze.prepare(base, cfg)
    counts = freeze.trainable_counts(model)
    assert counts["lora"] > 0 and counts["projector"] > 0
    assert counts["language_model"] == 0 and counts["audio_tower"] == 0  # base LM frozen under LoRA
    adapted = [n for n, _ in model.named_parameters() if "lora_" in n]
    assert adapted and all(".language_model." in n for n in adapted)  # the encoder's q/v_proj get none
    before = _snapshot(model)
    for _ in range(2):  # lora_B starts at zero: the second step moves the merged weights
        _one_step(model, world[1], lr=0.5)
    for name, p in model.named_parameters():
        key = name.removeprefix("base_model.model.")
        if not p.requires_grad:
            assert torch.equal(before[key], p.detach()), f"frozen {name} changed"
    plain = freeze.merged(model)
    assert {n for n, _ in plain.named_parameters()} == plain_names
    q = "model.language_model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(dict(plain.named_parameters())[q], before[q.replace(".weight", ".base_layer.weight")])
    mb.save(plain, mb.load_pretrained(world[0] / "models/backbone")[1], tmp_path / "merged")
    reloaded, _ = mb.load_pretrained(tmp_path / "merged")
    assert torch.equal(dict(reloaded.named_parameters())[q], dict(plain.named_parameters())[q])
