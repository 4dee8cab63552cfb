"""Backbone enhancement: the espeak-ng ASR corpus, the source adapters, the mixture and the stage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.speech import sources
from musicflamingo.speech.corpus import build_espeak_corpus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("espeak")
    return out, build_espeak_corpus(out, n_per_task=2, seed=0)


def test_espeak_corpus_has_three_tasks_of_real_audio_and_is_reused(corpus):
    out, rows = corpus
    assert Counter(r["task"] for r in rows) == {"multilingual_asr": 2, "multispeaker_asr": 2, "lyrics": 2}
    for r in rows:
        info = sf.info(r["audio"])
        assert info.samplerate == 16000 and 0.5 < info.duration < 20
        assert r["text"].strip()
    multi = [r for r in rows if r["task"] == "multispeaker_asr"]
    assert all(r["text"].startswith("[S1] ") and " [S2] " in r["text"] and r["speakers"] == 2 for r in multi)
    assert len({r["language"] for r in rows}) > 1
    mtimes = {r["audio"]: Path(r["audio"]).stat().st_mtime_ns for r in rows}
    again = build_espeak_corpus(out, n_per_task=2, seed=0)
    assert again == rows and all(Path(r["audio"]).stat().st_mtime_ns == mtimes[r["audio"]] for r in again)


def test_jsonl_source_resolves_paths_and_rejects_bad_rows(corpus, tmp_path):
    out, rows = corpus
    manifest = tmp_path / "m.jsonl"
    rel = Path(rows[0]["audio"]).relative_to(out)
    manifest.write_text(json.dumps({"audio": str(rel), "text": "hello"}) + "\n")
    src = {"name": "m", "kind": "jsonl", "task": "lyrics", "path": str(manifest), "audio_root": str(out)}
    assert sources.load_source(src, tmp_path, 0) == [{"audio": str(out / rel), "text": "hello", "task": "lyrics"}]
    manifest.write_text(json.dumps({"audio": "missing.wav", "text": "x"}) + "\n")
    with pytest.raises(ValueError, match="not found"):
        sources.load_source(src, tmp_path, 0)
    manifest.write_text(json.dumps({"audio": str(rel), "text": " "}) + "\n")
    with pytest.raises(ValueError, match="non-empty text"):
        sources.load_source(src, tmp_path, 0)
    with pytest.raises(ValueError, match="task"):
        sources.load_source({**src, "task": "music"}, tmp_path, 0)


def test_hf_dataset_on_disk_source(corpus, tmp_path):
    import datasets

    _, rows = corpus
    ds = datasets.Dataset.from_dict(
        {"audio": [{"bytes": Path(r["audio"]).read_bytes(), "path": Path(r["audio"]).name} for r in rows[:2]],
         "sentence": [r["text"] for r in rows[:2]]}
    ).cast_column("audio", datasets.Audio(decode=False))
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "hf"))
    src = {"name": "hf", "kind": "hf_disk", "task": "multilingual_asr", "path": str(tmp_path / "hf"),
           "split": "train", "text_column": "sentence"}
    got = sources.load_source(src, tmp_path / "cache", 0)
    assert [g["text"] for g in got] == [r["text"] for r in rows[:2]]
    assert all(Path(g["audio"]).read_bytes() == Path(r["audio"]).read_bytes() for g, r in zip(got, rows))


def test_mixture_follows_the_weights_and_builds_conversations(tmp_path):
    mix = [
        {"name": "a", "kind": "espeak", "task": "multilingual_asr", "n_per_task": 2, "weight": 3},
        {"name": "b", "kind": "espeak", "task": "lyrics", "n_per_task": 2, "weight": 1},
    ]
    recs = sources.mixture_records(mix, 8, tmp_path, seed=0)
    assert Counter(r["task"] for r in recs) == {"multilingual_asr": 6, "lyrics": 2}
    r = recs[0]
    assert r["conversations"][0]["value"].startswith("<sound>\n") and r["conversations"][1]["value"]
    with pytest.raises(ValueError, match="weights"):
        sources.mixture_records([{**mix[0], "weight": 0}], 4, tmp_path, seed=0)


@pytest.mark.slow
def test_backbone_stage_trains_on_the_asr_mixture_and_registers(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from musicflamingo import registry
    from musicflamingo.model import build as mb
    from musicflamingo.testing.fixtures import isolated_mlflow
    from musicflamingo.train.backbone import run_backbone
    from musicflamingo.stage import StageContext

    isolated_mlflow(monkeypatch, tmp_path)
    params = OmegaConf.load(ROOT / "params.yaml")
    backbone = OmegaConf.merge(
        OmegaConf.load(ROOT / "conf/train/backbone.yaml"),
        {"steps": 2, "examples": 6, "heldout": 2, "learning_rate": 5e-3,
         "mixture": [{**m, "n_per_task": 2} for m in OmegaConf.to_container(params.train.backbone.mixture)]},
    )
    cfg = OmegaConf.create({"experiment": "test", "seed": 0, "model": small_model_cfg(),
                            "train": {"backbone": backbone}, "deepspeed": params.deepspeed})
    ctx = StageContext(root=tmp_path, stage=registry.get("backbone"))
    built, _ = mb.build_tiny(cfg.model, None, seed=0)
    summary = run_backbone(cfg, ctx)
    e = summary["enhancement"]
    assert e["steps"] == 2 and e["train_records"] == 4 and e["heldout_records"] == 2
    assert sum(e["asr_tasks"].values()) == 6 and len(e["asr_tasks"]) == 3
    assert e["heldout_loss"] == e["heldout_loss"] and "heldout_loss_initial" in e
    trained, _ = mb.load_pretrained(ctx.out)
    before = dict(built.named_parameters())
    assert any(not (p.detach() == before[n].detach()).all() for n, p in trained.named_parameters())
    assert str(MlflowClient().get_model_version_by_alias("music-flamingo", "backbone").version) == summary["model_version"]
