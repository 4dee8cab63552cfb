"""Evaluation: letter extraction, accuracy summary, and the eval stage's reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from musicflamingo.testing.fixtures import small_model_cfg
from musicflamingo.evaluation.mcq import extract_choice, summarise
from musicflamingo.think_answer import answer_span

ROOT = Path(__file__).resolve().parents[2]


def _conf_values() -> dict:
    """What run_eval reads besides `model`, with conf/'s values (params.yaml): eval and the GRPO reward weights."""
    params = OmegaConf.to_container(OmegaConf.load(ROOT / "params.yaml"))
    return {"eval": params["eval"], "train": {"grpo": {"reward_weights": params["train"]["grpo"]["reward_weights"]}}}
OPTIONS = ["about 80 BPM", "about 110 BPM", "A minor", "G major"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>Step 1: (A) is too slow.</think><answer>(B) about 110 BPM</answer>", "B"),  # answer block wins
        ("<answer>D</answer>", "D"),
        ("<answer>G major</answer>", "D"),  # option text inside the answer block
        ("(C) A minor", "C"),
        ("The answer is B.", "B"),
        ("B", "B"),
        ("C) A minor", "C"),
        ("A slow piece", None),  # the article "A" is not a choice
        ("It sounds like A minor to me", "C"),  # a note name is not a letter; the option text decides
        ("about 110 BPM", "B"),
        ("about 80 BPM or about 110 BPM", None),  # two options named: undecided
        ("", None),
        ("<answer></answer> (A)", None),  # an empty answer block is the answer
    ],
)
def test_extract_choice(text, expected):
    assert extract_choice(text, OPTIONS) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (" Fsus melancholy 100 seconds Gm", None),  # "D" inside "seconds" is not the option "D"
        ("the chord is Cm", "B"),
        ("it is C#m7", None),  # "C#" inside "C#m7" is not the option "C#"
        ("F# then", "C"),
        ("cm", None),  # short options are case-sensitive
    ],
)
def test_extract_choice_matches_option_text_as_whole_words(text, expected):
    assert extract_choice(text, ["D", "Cm", "F#", "C#"]) == expected


def test_answer_span():
    assert answer_span("<think>x</think><answer> (B) y </answer>") == "(B) y"
    assert answer_span("no tags") is None


def test_summarise_accuracy_and_chance():
    preds = [
        {"predicted_letter": "A", "answer_letter": "A", "correct": True, "n_options": 4, "skill": "harmony"},
        {"predicted_letter": None, "answer_letter": "B", "correct": False, "n_options": 4, "skill": "harmony"},
        {"predicted_letter": "C", "answer_letter": "D", "correct": False, "n_options": 4, "skill": "attribute"},
        {"predicted_letter": "B", "answer_letter": "B", "correct": True, "n_options": 4, "skill": "attribute"},
    ]
    s = summarise(preds)
    assert s["accuracy"] == 0.5 and s["n"] == 4 and s["correct"] == 2 and s["unparsed"] == 1 and s["chance"] == 0.25
    half = {"accuracy": 0.5, "ci95": (0.0945, 0.9055), "n": 2, "correct": 1}  # Wilson 95 % of 1/2
    assert s["by_skill"] == {"attribute": half, "harmony": half}


def test_run_eval_writes_reports(tmp_path, monkeypatch):
    import mlflow

    from musicflamingo import registry
    from musicflamingo.evaluation.stage import run_eval
    from musicflamingo.model import build as mb
    from musicflamingo.testing.fixtures import isolated_mlflow, write_fixture
    from musicflamingo.stage import StageContext
    from tests.evaluation.test_benchmarks import _mucho_audio, copy_fixture

    write_fixture(tmp_path, n_tracks=3, seconds=1.0, heldout_tracks=2)
    mb.build_tiny(small_model_cfg(), tmp_path / "models/backbone", seed=0)
    for name in ("sft", "coldstart", "grpo"):
        shutil.copytree(tmp_path / "models/backbone", tmp_path / "models" / name)
    isolated_mlflow(monkeypatch, tmp_path)
    mucho = copy_fixture("muchomusic", tmp_path / "bench")
    _mucho_audio(mucho)
    cfg = OmegaConf.create(
        {
            "experiment": "test",
            "seed": 0,
            "model": small_model_cfg(),
            **_conf_values(),
            "eval": {
                **_conf_values()["eval"],
                "checkpoints": ["backbone", "sft", "coldstart", "grpo"],
                "max_new_tokens": 4,
                "batch_size": 2,
                "mcq_max_new_tokens_plain": None,
                "think_for": ["coldstart", "grpo"],
                "embedding_similarity": False,
                "benchmarks": {"muchomusic": {"annotations": str(mucho / "muchomusic.csv"), "musiccaps_metadata": str(mucho / "musiccaps-public.csv")}},
            },
        }
    )
    ctx = StageContext(root=tmp_path, stage=registry.get("eval"))
    ctx.out.mkdir(parents=True)
    summary = run_eval(cfg, ctx)
    metrics = json.loads((tmp_path / "reports/eval.json").read_text())
    demo = metrics["demo_mcq"]["accuracy"]
    assert demo["chance"] == 0.25 and demo["n"] == 4
    assert {"backbone", "sft", "coldstart", "grpo"} <= set(demo)
    for name in ("backbone", "sft", "coldstart", "grpo"):
        assert 0.0 <= demo[name] <= 1.0 and summary[f"{name}_accuracy"] == demo[name]
    # identical weights and identical prompts decode identically
    assert demo["backbone"] == demo["sft"]
    assert metrics["muchomusic"]["accuracy"]["n"] == 3  # the 4th item's audio is missing: counted, not fatal
    md = (tmp_path / "reports/eval.md").read_text()
    assert "| muchomusic | accuracy ↑ | 3 |" in md and "paper: Music Flamingo" in md and "missing audio: 1" in md
    assert (tmp_path / "reports/eval.png").stat().st_size > 1000
    rows = [json.loads(x) for x in (ctx.out / "predictions.jsonl").read_text().splitlines()]
    assert {r["checkpoint"] for r in rows} == {"backbone", "sft", "coldstart", "grpo"}
    assert {r["benchmark"] for r in rows} >= {"demo_mcq", "muchomusic", "demo_mcq_silence", "demo_mcq_other_track"}
    # the learning proof: every checkpoint next to its no-audio controls, with intervals and chance
    proof = metrics["learning_proof"]
    for ck in ("backbone", "sft", "coldstart", "grpo"):
        row = proof[f"{ck}/all"]
        assert row["n"] == 4 and row["chance"] == 0.25
        for c in ("audio", "silence", "other_track"):
            assert row[f"{c}_ci_low"] <= row[f"{c}_accuracy"] <= row[f"{c}_ci_high"]
        assert {f"{ck}/harmony", f"{ck}/attribute"} <= set(proof)
    assert set(metrics["ablation"]) == {"backbone", "sft", "coldstart", "grpo"} and "reward" in metrics["ablation"]["grpo"]
    assert "Does the model use the audio?" in md and "SFT only → + cold start → + GRPO" in md and "| + GRPO | grpo |" in md
    run = mlflow.search_runs(experiment_names=["music-flamingo/test"], output_format="list")[0]
    assert "grpo.demo_mcq.accuracy" in run.data.metrics

    # A second eval decodes nothing: every prediction comes from the per-item cache.
    again = run_eval(cfg, ctx)
    assert again["decoded_items"] == 0 and again["backbone_accuracy"] == demo["backbone"]


from tests.evaluation.test_judge import GOOD, conf, server  # noqa: E402,F401  (the real HTTP judge server fixture)


def test_run_eval_with_llm_judge_puts_scores_and_rubric_in_the_report(tmp_path, monkeypatch, server):  # noqa: F811
    from musicflamingo import registry
    from musicflamingo.evaluation.stage import run_eval
    from musicflamingo.model import build as mb
    from musicflamingo.testing.fixtures import isolated_mlflow, write_fixture
    from musicflamingo.stage import StageContext

    write_fixture(tmp_path, n_tracks=2, seconds=1.0)
    mb.build_tiny(small_model_cfg(), tmp_path / "models/backbone", seed=0)
    isolated_mlflow(monkeypatch, tmp_path)
    judge = {"enabled": True, **conf(server, "ok")}
    cfg = OmegaConf.create({"experiment": "test", "seed": 0, "model": small_model_cfg(), **_conf_values(),
                            "eval": {**_conf_values()["eval"], "checkpoints": ["backbone"], "max_new_tokens": 4, "batch_size": 2,
                                     "mcq_max_new_tokens_plain": None, "think_for": [], "embedding_similarity": False, "judge": judge}})
    ctx = StageContext(root=tmp_path, stage=registry.get("eval"))
    ctx.out.mkdir(parents=True)
    run_eval(cfg, ctx)
    metrics = json.loads((tmp_path / "reports/eval.json").read_text())
    assert metrics["demo_captions"]["judge_coverage"]["backbone"] == GOOD["coverage"]
    assert "rubric:" in (tmp_path / "reports/eval.md").read_text()
    assert server.requests and server.requests[0]["auth"] == "Bearer sk-test-123"


def test_checkpoint_hash_sees_weights_past_the_first_megabyte(tmp_path):
    """A frozen tower fills the first megabytes of every checkpoint alike; only the tail (the trained LM) differs."""
    from musicflamingo.evaluation.predict import checkpoint_hash

    head = bytes(3 << 20)
    for name, tail in (("backbone", b"\x00" * 64), ("sft", b"\x01" * 64)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(head + tail)
        (tmp_path / name / "config.json").write_text("{}")
    assert checkpoint_hash(tmp_path / "backbone") != checkpoint_hash(tmp_path / "sft")
