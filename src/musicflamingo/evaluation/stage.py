"""Stage `eval`: held-out MCQ accuracy of every checkpoint, side by side, next to chance.

`run_eval(cfg, ctx)` evaluates each stage named in `cfg.eval.checkpoints`
(its model folder, `ctx.input(name)`) on the MCQ items of
`mf_skills/heldout.jsonl` and writes:
- `reports/eval.json`: {"checkpoints": {name: {"accuracy", "n", ...}},
  "chance", "n_items", "max_new_tokens"};
- `reports/eval.md`: the same as a markdown table;
- `data/eval/predictions.jsonl`: one row per (checkpoint, item).
Checkpoints listed in `cfg.eval.think_for` are prompted with the
think/answer instruction they were trained with; the others with the plain
question. Metrics go to the stage's MLflow run as `<name>.accuracy`.
"""

from __future__ import annotations

from musicflamingo import tracking
from musicflamingo.evaluation.mcq import evaluate_mcq, summarise
from musicflamingo.io import atomic_write_text, read_jsonl, write_json, write_jsonl
from musicflamingo.model import build as mb
from musicflamingo.model import inputs as mi


def render_markdown(report: dict) -> str:
    lines = [
        "# Held-out multiple-choice accuracy",
        "",
        f"{report['n_items']} MCQ items from `data/mf_skills/heldout.jsonl`, greedy decoding, "
        f"at most {report['max_new_tokens']} new tokens. Chance level: {report['chance']}.",
        "",
        "| checkpoint | prompt | accuracy | correct / n | unparsed | vs chance |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["checkpoints"].items():
        delta = r["accuracy"] - report["chance"]
        cells = [name, r["prompt"], f"{r['accuracy']:.3f}", f"{r['correct']} / {r['n']}", str(r["unparsed"])]
        cells.append(f"{delta:+.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def run_eval(cfg, ctx) -> dict:
    import mlflow

    from musicflamingo.data.formats import THINK_INSTRUCTION

    e = cfg.eval
    items = [r for r in read_jsonl(ctx.input("mf_skills") / "heldout.jsonl") if r.get("task") == "mcq"]
    if not items:
        raise ValueError("no mcq items in data/mf_skills/heldout.jsonl")
    think_for = set(e.get("think_for", []) or [])
    audio = mi.AudioLoader(ctx.root, float(cfg.model.max_audio_s), capacity=64)
    results: dict[str, dict] = {}
    rows: list[dict] = []
    with tracking.stage_run(ctx, cfg) as run:
        for name in e.checkpoints:
            model, processor = mb.load_pretrained(ctx.input(str(name)))
            think = name in think_for
            preds = evaluate_mcq(
                model,
                processor,
                items,
                audio,
                int(e.max_new_tokens),
                int(e.batch_size),
                THINK_INSTRUCTION if think else None,
            )
            s = summarise(preds)
            results[str(name)] = {"prompt": "think" if think else "plain", **s}
            rows.extend({"checkpoint": str(name), **p} for p in preds)
            mlflow.log_metrics({f"{name}.accuracy": s["accuracy"], f"{name}.unparsed": s["unparsed"]})
            ctx.log(f"{name}: accuracy {s['accuracy']} on {s['n']} items ({s['unparsed']} unparsed)")
            del model
        chance = results[next(iter(results))]["chance"]
        mlflow.log_metric("chance", chance)
        report = {
            "checkpoints": {k: {kk: vv for kk, vv in v.items() if kk != "chance"} for k, v in results.items()},
            "chance": chance,
            "n_items": len(items),
            "max_new_tokens": int(e.max_new_tokens),
            "mlflow_run_id": run.info.run_id,
        }
        reports = ctx.root / "reports"
        write_json(reports / "eval.json", report)
        atomic_write_text(reports / "eval.md", render_markdown(report))
        write_jsonl(ctx.out / "predictions.jsonl", rows)
        mlflow.log_artifact(str(reports / "eval.json"), "reports")
        mlflow.log_artifact(str(reports / "eval.md"), "reports")
    return {"chance": chance, "n_items": len(items), **{f"{k}_accuracy": v["accuracy"] for k, v in results.items()}}
