"""The evaluation report and the resumable predictor."""

import json

from musicflamingo.evaluation import report as rpt


def _rows():
    return [
        rpt.Row("demo_mcq", "accuracy", {"backbone": 0.25, "sft": 0.5}, n=8, chance=0.25),
        rpt.Row("muchomusic", "accuracy", {"backbone": 0.3, "sft": None}, n=4, chance=0.25),
        rpt.Row("musdb18_lyrics", "wer", {"backbone": 0.9, "sft": 0.8}, n=3, higher_is_better=False),
    ]


def test_markdown_has_checkpoints_chance_and_paper_columns():
    md = rpt.markdown(_rows(), ["backbone", "sft"], "# Evaluation", ["note"])
    header = next(line for line in md.splitlines() if line.startswith("| benchmark"))
    assert header.split(" | ")[3:5] == ["backbone", "sft"]
    assert "paper: Music Flamingo" in header and "chance" in header
    mucho = next(line for line in md.splitlines() if line.startswith("| muchomusic"))
    assert "0.746" in mucho and "Qwen3-O" in mucho  # 74.58 % and the previous best's model
    lyr = next(line for line in md.splitlines() if line.startswith("| musdb18_lyrics"))
    assert "wer ↓" in lyr and "0.196" in lyr


def test_metrics_json_is_nested_for_dvc_metrics_diff():
    m = rpt.metrics_json(_rows())
    assert m["demo_mcq"]["accuracy"] == {"backbone": 0.25, "sft": 0.5, "chance": 0.25, "n": 8}
    assert "sft" not in m["muchomusic"]["accuracy"]
    json.dumps(m)


def test_bar_plot_writes_a_png(tmp_path):
    path = rpt.bar_plot(_rows(), ["backbone", "sft"], tmp_path / "eval.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
