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


def _summary(k, n, chance=0.25, by_skill=None):
    from musicflamingo.evaluation.mcq import wilson_ci

    return {"accuracy": k / n, "ci95": wilson_ci(k, n), "n": n, "chance": chance,
            "by_skill": {s: {"accuracy": a / m, "ci95": wilson_ci(a, m), "n": m} for s, (a, m) in (by_skill or {}).items()}}


def test_wilson_interval_matches_the_closed_form():
    from musicflamingo.evaluation.mcq import wilson_ci

    # Wilson (1927): 8 of 10 at 95 % is [0.4902, 0.9433]; 0 of 150 still has a positive upper bound
    assert wilson_ci(8, 10) == (0.4902, 0.9433)
    lo, hi = wilson_ci(0, 150)
    assert lo == 0.0 and 0.02 < hi < 0.03
    assert wilson_ci(0, 0) == (None, None)


def test_proof_rows_separate_only_when_intervals_do():
    proof = {
        "sft": {"audio": _summary(120, 160, by_skill={"harmony": (60, 80), "temporal": (22, 80)}),
                "silence": _summary(40, 160, by_skill={"harmony": (20, 80), "temporal": (20, 80)}),
                "other_track": _summary(45, 160, by_skill={"harmony": (21, 80), "temporal": (24, 80)})},
    }
    rows = {r["family"]: r for r in rpt.proof_rows(proof, ["backbone", "sft"])}
    assert set(rows) == {"all", "harmony", "temporal"}
    assert rows["all"]["separated"] and rows["harmony"]["separated"]
    assert not rows["temporal"]["separated"] and rows["temporal"]["delta"] == round(22 / 80 - 24 / 80, 4)
    md = "\n".join(rpt.proof_markdown(list(rows.values())))
    assert "| sft | harmony | 80 | 0.750 [" in md and "| no |" in md


def test_ablation_table_has_the_paper_rows_in_order():
    lines = rpt.ablation_markdown({"grpo": {**_summary(5, 10), "reward": 1.2}, "sft": {**_summary(3, 10), "reward": 0.3},
                                   "coldstart": {**_summary(4, 10), "reward": 1.0}})
    body = [x for x in lines if x.startswith("| ")][1:]
    assert [x.split(" | ")[0] for x in body] == ["| SFT only", "| + cold start", "| + GRPO"]
    assert "1.200" in body[2]


def test_other_track_control_is_a_derangement_and_silence_zeroes_the_audio(tmp_path):
    import torch

    from musicflamingo.evaluation.predict import Predictor, Request
    from musicflamingo.evaluation.stage import other_track_audio
    from musicflamingo.model import build as mb
    from musicflamingo.testing.fixtures import small_model_cfg, write_fixture
    from musicflamingo.io import read_jsonl

    write_fixture(tmp_path, n_tracks=4, seconds=1.0, heldout_tracks=3)
    items = read_jsonl(tmp_path / "data/mf_skills/heldout.jsonl")
    others = other_track_audio(items)
    own = {r["track_id"]: r["sound"] for r in items}
    assert len(others) == 3 and all(others[t] != own[t] for t in own) and sorted(others.values()) == sorted(own.values())
    assert other_track_audio(items[:1]) == {}
    mb.build_tiny(small_model_cfg(), tmp_path / "m", seed=0)
    pred = Predictor(tmp_path / "m", tmp_path, 30.0, 2, 2, tmp_path / "cache")
    seen = []
    pred.model.model.audio_tower.register_forward_pre_hook(lambda m, a, k: seen.append((a[0] if a else k["input_features"]).clone()), with_kwargs=True)
    r = items[1]
    out = pred([Request("a", "<sound>\nKey?", r["sound"]), Request("s", "<sound>\nKey?", r["sound"], control="silence")])
    assert [p.id for p in out] == ["a", "s"] and not out[1].cached
    feats = torch.cat(seen)
    assert feats.shape[0] == 2
    assert torch.all(feats[1] == feats[1].flatten()[0]) and not torch.all(feats[0] == feats[0].flatten()[0])
