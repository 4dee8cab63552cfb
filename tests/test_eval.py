"""Evaluation: letter extraction, accuracy summary, and the eval stage's reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from musicflamingo.evaluation.mcq import extract_choice, summarise
from musicflamingo.model.answers import answer_span

ROOT = Path(__file__).resolve().parents[1]
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
    assert s["by_skill"] == {"attribute": {"accuracy": 0.5, "n": 2}, "harmony": {"accuracy": 0.5, "n": 2}}


def test_run_eval_writes_reports(tmp_path, monkeypatch):
    import mlflow

    from musicflamingo import registry
    from musicflamingo.evaluation.stage import run_eval
    from musicflamingo.model import build as mb
    from musicflamingo.model.fixtures import isolated_mlflow, write_fixture
    from musicflamingo.stage import StageContext

    write_fixture(tmp_path, n_tracks=2, seconds=1.0)
    mb.build_tiny(OmegaConf.load(ROOT / "conf/model/tiny.yaml"), tmp_path / "models/backbone", seed=0)
    for name in ("sft", "coldstart", "grpo"):
        shutil.copytree(tmp_path / "models/backbone", tmp_path / "models" / name)
    isolated_mlflow(monkeypatch, tmp_path)
    cfg = OmegaConf.create(
        {
            "experiment": "test",
            "seed": 0,
            "model": OmegaConf.load(ROOT / "conf/model/tiny.yaml"),
            "eval": {
                "checkpoints": ["backbone", "sft", "coldstart", "grpo"],
                "max_new_tokens": 4,
                "batch_size": 2,
                "think_for": ["coldstart", "grpo"],
            },
        }
    )
    ctx = StageContext(root=tmp_path, stage=registry.get("eval"))
    ctx.out.mkdir(parents=True)
    summary = run_eval(cfg, ctx)
    report = json.loads((tmp_path / "reports/eval.json").read_text())
    assert report["chance"] == 0.25 and report["n_items"] == 2
    assert set(report["checkpoints"]) == {"backbone", "sft", "coldstart", "grpo"}
    for name, r in report["checkpoints"].items():
        assert r["n"] == 2 and 0.0 <= r["accuracy"] <= 1.0
        assert r["prompt"] == ("think" if name in ("coldstart", "grpo") else "plain")
        assert summary[f"{name}_accuracy"] == r["accuracy"]
    # identical weights and identical prompts decode identically
    assert report["checkpoints"]["backbone"]["accuracy"] == report["checkpoints"]["sft"]["accuracy"]
    md = (tmp_path / "reports/eval.md").read_text()
    assert "| checkpoint |" in md and "| grpo | think |" in md
    rows = [json.loads(x) for x in (ctx.out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {r["checkpoint"] for r in rows} == set(report["checkpoints"])
    run = mlflow.get_run(report["mlflow_run_id"])
    assert "grpo.accuracy" in run.data.metrics and "chance" in run.data.metrics
