"""Stage `eval`: every checkpoint on every configured benchmark, side by side.

For each checkpoint in `cfg.eval.checkpoints` (backbone, sft, coldstart,
grpo) it runs:
- the held-out demo benchmark built from `mf_skills/heldout.jsonl` (tracks
  never seen by any training stage): multiple-choice accuracy overall and
  per skill, and caption coverage/correctness against the structured ground
  truth, plus embedding similarity to the reference caption;
- every published benchmark configured under `cfg.eval.benchmarks`
  (local copies read by the adapters in `evaluation.benchmarks`, scored with
  the official rules in `evaluation.scoring`).

Next to every checkpoint's held-out MCQ accuracy (per skill family, 95 %
Wilson intervals, chance level) it runs the no-audio controls of
`eval.controls`: the same prompts with the clip replaced by silence of the
same length, and by another held-out track's audio; the report says per
family whether the intervals separate. It also writes the paper's ablation
(SFT only -> + cold start -> + GRPO) with MCQ accuracy and GRPO reward.

Writes `reports/eval.md` (Table 1 shape: checkpoints, chance, the paper's
numbers; then the learning proof and the ablation), `reports/eval.json` (DVC metrics), `reports/eval.png`,
`data/eval/predictions.jsonl`, and logs everything to MLflow. Decoding is
greedy and batched; predictions are cached per item, so a killed eval resumes.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from musicflamingo import tracking
from musicflamingo.think_answer import THINK_INSTRUCTION, with_instruction
from musicflamingo.evaluation import report as rpt
from musicflamingo.evaluation.mcq import summarise
from musicflamingo.evaluation.predict import Predictor, Request
from musicflamingo.io import atomic_write_text, read_jsonl, write_json, write_jsonl
from musicflamingo.model import inputs as mi
from musicflamingo.model.answers import extract_choice
from musicflamingo.train import rewards as rw


def other_track_audio(items: list[dict]) -> dict[str, str]:
    """track_id -> the sound of another held-out track: each track's successor in sorted track order
    (a fixed derangement, so every track's audio is used once as a control). Empty with < 2 tracks."""
    sounds = {}
    for r in items:
        sounds.setdefault(r.get("track_id") or r["sound"], r["sound"])
    order = sorted(sounds)
    if len(order) < 2:
        return {}
    return {t: sounds[order[(i + 1) % len(order)]] for i, t in enumerate(order)}


def _demo_mcq(items: list[dict], predictor: Predictor, think: bool, control: str = "audio",
              others: dict[str, str] | None = None, max_new_tokens: int | None = None) -> tuple[dict, list[dict]]:
    """MCQ predictions and their summary; `control` "silence" / "other_track" replaces the audio."""
    requests = []
    for r in items:
        human = mi.human_turn(r)
        sound = (others or {}).get(r.get("track_id") or r["sound"], r["sound"]) if control == "other_track" else r["sound"]
        requests.append(Request(r["id"], with_instruction(human, THINK_INSTRUCTION if think else None), sound,
                                control="silence" if control == "silence" else ""))
    preds = []
    for r, p in zip(items, predictor(requests, max_new_tokens)):
        letter = extract_choice(p.output or "", r.get("options"))
        preds.append({"id": r["id"], "skill": r.get("skill"), "answer_letter": r["answer_letter"], "predicted_letter": letter,
                      "correct": letter == r["answer_letter"], "n_options": len(r.get("options") or []) or 4, "output": p.output,
                      "error": p.error, "control": control})
    return summarise(preds), preds


def _rewards(items: list[dict], preds: list[dict], truths: dict, weights: dict) -> dict:
    """Mean GRPO reward components of the predictions (the ablation's reward column)."""
    import numpy as np


    total, parts = rw.combined_reward(
        [p["output"] or "" for p in preds], weights,
        answer_letter=[r.get("answer_letter") for r in items], options=[r.get("options") or [] for r in items],
        answer=[r.get("answer") for r in items], truth=[truths.get(r.get("track_id", "")) for r in items],
    )
    return {"reward": round(float(np.mean(total)), 4),
            **{("accuracy_reward" if k == "accuracy" else k): round(float(np.mean(v)), 4) for k, v in parts.items()}}


def _demo_captions(items: list[dict], predictor: Predictor, truths: dict[str, dict], embed: bool, judge_cfg: dict | None) -> tuple[dict, list[dict]]:
    from musicflamingo.evaluation.captions import coverage_correctness, embedding_similarity

    preds = predictor([Request(r["id"], mi.human_turn(r), r["sound"]) for r in items])
    rows = []
    for r, p in zip(items, preds):
        scores = coverage_correctness(p.output or "", truths.get(r["track_id"], {}))
        rows.append({"id": r["id"], "output": p.output, "error": p.error, **scores})
    n = len(rows)
    summary = {
        "n": n,
        "coverage": round(sum(x["coverage"] for x in rows) / n, 4) if n else None,
        "correctness": round(sum(x["correctness"] for x in rows) / n, 4) if n else None,
    }
    if judge_cfg and n:
        from musicflamingo.evaluation.judge import judge_captions

        verdicts = judge_captions([{"caption": x["output"] or "", "truth": truths.get(r["track_id"], {}), "reference": mi.gpt_turn(r)} for x, r in zip(rows, items)], judge_cfg)
        for x, v in zip(rows, verdicts):
            x["judge"] = v
        ok = [v for v in verdicts if "error" not in v]
        summary["judge_errors"] = n - len(ok)
        for k in ("coverage", "correctness"):
            summary[f"judge_{k}"] = round(sum(v[k] for v in ok) / len(ok), 3) if ok else None
    if embed and n:
        sims = embedding_similarity([x["output"] or "" for x in rows], [mi.gpt_turn(r) for r in items])
        for x, s in zip(rows, sims):
            x["embedding_similarity"] = s
        summary["embedding_similarity"] = round(sum(sims) / n, 4)
    return summary, rows


def _external(name: str, bcfg: dict, predictors: dict[str, Predictor]) -> tuple[list[rpt.Row], list[dict], dict]:
    from musicflamingo.evaluation import paper
    from musicflamingo.evaluation.benchmarks import load_benchmark, render_prompt
    from musicflamingo.evaluation.scoring import score

    adapter = bcfg.get("adapter", name)
    loaded = load_benchmark(adapter, bcfg)
    items = loaded.items
    requests = [Request(it.id, f"<sound>\n{render_prompt(it)}", it.audio_paths[0]) for it in items]
    results, rows = {}, []
    for ck, predictor in predictors.items():
        preds = predictor(requests)
        outputs = [p.output or "" for p in preds]
        res = score(items, outputs)
        results[ck] = res
        rows.extend({"checkpoint": ck, "benchmark": name, "id": it.id, "output": p.output, "error": p.error, **v} for it, p, v in zip(items, preds, res.verdicts))
    first = next(iter(results.values()))
    metric = next(k for k in ("accuracy", "wer", "cer") if k in first.metrics)
    table = [rpt.Row(name, metric, {ck: r.metrics.get(metric) for ck, r in results.items()}, n=len(items),
                     chance=paper.chance_level(adapter, items), higher_is_better=metric == "accuracy", paper_variant=bcfg.get("paper_variant"),
                     notes=[first.rule] + ([first.normalisation] if first.normalisation else []))]
    audit = {"missing_audio": len(loaded.missing_audio), "skipped": loaded.skipped, "rule": first.rule, "normalisation": first.normalisation}
    return table, rows, audit


def _rubric() -> str:
    from musicflamingo.evaluation.judge import RUBRIC

    return RUBRIC


def run_eval(cfg, ctx) -> dict:
    e = cfg.eval
    mcq_items, caption_items, truths = _heldout(ctx.input("mf_skills"))
    think_for = set(e.think_for)
    checkpoints = [str(c) for c in e.checkpoints]
    cache = ctx.root / ".cache" / "eval"
    judge_cfg = _judge_cfg(e.judge)
    predictors = {
        ck: Predictor(ctx.input(ck), ctx.root, float(cfg.model.max_audio_s), int(e.max_new_tokens), int(e.batch_size), cache)
        for ck in checkpoints
    }
    rows: list[rpt.Row] = []
    predictions: list[dict] = []
    mcq_by_ck, cap_by_ck, proof, ablation = {}, {}, {}, {}
    others = other_track_audio(mcq_items)
    controls = [c for c in e.controls if c != "other_track" or others]
    weights = dict(cfg.train.grpo.reward_weights)  # the GRPO reward, scored on every checkpoint's answers
    # A checkpoint asked the plain question answers "(B) G major" first; the long budget is for think chains.
    plain_budget = e.mcq_max_new_tokens_plain
    for ck, predictor in predictors.items():
        budget = None if ck in think_for or not plain_budget else int(plain_budget)
        mcq_by_ck[ck], preds = _demo_mcq(mcq_items, predictor, ck in think_for, max_new_tokens=budget)
        predictions += [{"checkpoint": ck, "benchmark": "demo_mcq", **p} for p in preds]
        proof[ck] = {"audio": mcq_by_ck[ck]}
        ablation[ck] = {**mcq_by_ck[ck], **_rewards(mcq_items, preds, truths, weights)}
        for control in controls:
            proof[ck][control], cpreds = _demo_mcq(mcq_items, predictor, ck in think_for, control, others, budget)
            predictions += [{"checkpoint": ck, "benchmark": f"demo_mcq_{control}", **p} for p in cpreds]
            ctx.log(f"{ck}: demo MCQ accuracy with {control} instead of the audio: {proof[ck][control]['accuracy']}")
        if caption_items and e.captions:
            cap_by_ck[ck], cps = _demo_captions(caption_items, predictor, truths, bool(e.embedding_similarity), judge_cfg)
            predictions += [{"checkpoint": ck, "benchmark": "demo_captions", **p} for p in cps]
        ctx.log(f"{ck}: demo MCQ accuracy {mcq_by_ck[ck]['accuracy']} on {mcq_by_ck[ck]['n']} items")
    chance = mcq_by_ck[checkpoints[0]]["chance"]
    rows += _demo_rows(mcq_by_ck, cap_by_ck, checkpoints[0], len(mcq_items), len(caption_items))
    audits = {}
    for name, bcfg in OmegaConf.to_container(e.benchmarks, resolve=True).items():
        table, preds, audits[name] = _external(name, bcfg, predictors)
        rows, predictions = rows + table, predictions + preds
        ctx.log(f"{name}: {audits[name]['missing_audio']} items with missing audio, skipped {audits[name]['skipped']}")
    throughput = {ck: p.items_per_s for ck, p in predictors.items()}
    decoded = sum(p.decoded for p in predictors.values())
    footnotes = _footnotes(int(e.max_new_tokens), plain_budget, think_for, judge_cfg, throughput, decoded, audits)
    proof_rows = rpt.proof_rows(proof, checkpoints)
    md = rpt.markdown(rows, checkpoints, "# Evaluation", footnotes)
    md += "\n" + "\n".join(rpt.proof_markdown(proof_rows) + rpt.ablation_markdown(ablation))
    with tracking.stage_run(ctx, cfg):
        _publish(ctx, rows, checkpoints, md, _metrics(rows, proof_rows, ablation), predictions)
    return {
        "chance": chance,
        "demo_mcq_items": len(mcq_items),
        "decoded_items": decoded,
        **{f"{ck}_accuracy": s["accuracy"] for ck, s in mcq_by_ck.items()},
        **{f"{ck}_{c}_accuracy": v["accuracy"] for ck, conds in proof.items() for c, v in conds.items() if c != "audio"},
        **{f"{ck}_items_per_s": v for ck, v in throughput.items() if v is not None},
    }


def _heldout(skills: Path) -> tuple[list[dict], list[dict], dict[str, dict]]:
    """MF-Skills' held-out MCQ and caption items, and each track's structured truth."""
    heldout = read_jsonl(skills / "heldout.jsonl")
    mcq_items = [r for r in heldout if r.get("task") == "mcq"]
    if not mcq_items:
        raise ValueError(f"no mcq items in {skills / 'heldout.jsonl'}")
    truths = {row["track_id"]: row["truth"] for row in read_jsonl(skills / "structured.jsonl")}
    return mcq_items, [r for r in heldout if r.get("task") == "caption"], truths


def _judge_cfg(judge_node) -> dict | None:
    """The optional LLM judge's settings (None when off); server, model and key come from config or MF_JUDGE_* variables."""
    judge = OmegaConf.to_container(judge_node, resolve=True)
    return {k: v for k, v in judge.items() if k != "enabled" and v is not None} if judge.get("enabled") else None


def _demo_rows(mcq_by_ck: dict, cap_by_ck: dict, first: str, n_mcq: int, n_captions: int) -> list[rpt.Row]:
    """Report rows of the held-out demo set: MCQ accuracy (overall and per skill) and caption scores, per checkpoint."""
    chance = mcq_by_ck[first]["chance"]
    rows = [rpt.Row("demo_mcq", "accuracy", {ck: s["accuracy"] for ck, s in mcq_by_ck.items()}, n=n_mcq, chance=chance)]
    for skill in sorted(mcq_by_ck[first]["by_skill"]):
        rows.append(rpt.Row(f"demo_mcq/{skill}", "accuracy", {ck: s["by_skill"][skill]["accuracy"] for ck, s in mcq_by_ck.items()},
                            n=mcq_by_ck[first]["by_skill"][skill]["n"], chance=chance))
    if cap_by_ck:
        for metric in ("coverage", "correctness", "embedding_similarity", "judge_coverage", "judge_correctness"):
            if metric in cap_by_ck[first]:
                rows.append(rpt.Row("demo_captions", metric, {ck: s.get(metric) for ck, s in cap_by_ck.items()}, n=n_captions))
    return rows


def _footnotes(max_new_tokens: int, plain_budget, think_for: set, judge_cfg, throughput: dict, decoded: int, audits: dict) -> list[str]:
    return [
        f"demo_*: held-out demo tracks (split by content hash; never seen in training), greedy decoding, at most {max_new_tokens} new tokens"
        + (f" ({int(plain_budget)} for the MCQs of checkpoints asked the plain question)." if plain_budget else "."),
        f"Prompts with the think/answer instruction for: {', '.join(sorted(think_for)) or 'none'}.",
        "demo_captions: coverage = share of known structured-truth categories the caption mentions; correctness = share of mentioned ones that match the facts.",
        ("demo_captions judge_*: LLM judge (0-10 scale), rubric: " + " ".join(_rubric().split())) if judge_cfg else "LLM judge: off (eval.judge.enabled=false).",
        "Paper columns: Music Flamingo and the previous best from the paper's Table 1 (fractions; judge scores on their own scale).",
        f"Throughput (items/s, newly decoded): {throughput}; {decoded} items decoded this run, the rest from the per-item cache.",
        *[f"{n}: rule: {a['rule']}" + (f"; normalisation: {a['normalisation']}" if a["normalisation"] else "") + f"; missing audio: {a['missing_audio']}" for n, a in audits.items()],
    ]


def _metrics(rows: list[rpt.Row], proof_rows: list[dict], ablation: dict) -> dict:
    """`reports/eval.json`: every row's values, the learning proof (accuracy with audio vs each control) and the ablation."""
    metrics = rpt.metrics_json(rows)
    metrics["learning_proof"] = {
        f"{r['checkpoint']}/{r['family']}": {
            **{f"{c}_accuracy": r[c]["accuracy"] for c in rpt.CONTROLS if r.get(c)},
            **{f"{c}_ci_low": r[c]["ci95"][0] for c in rpt.CONTROLS if r.get(c)},
            **{f"{c}_ci_high": r[c]["ci95"][1] for c in rpt.CONTROLS if r.get(c)},
            "n": r["n"], "chance": r["chance"], "delta": r["delta"], "separated": int(r["separated"]),
        }
        for r in proof_rows
    }
    metrics["ablation"] = {ck: {k: a[k] for k in ("accuracy", "reward", "format", "accuracy_reward", "structured") if k in a}
                           for ck, a in ablation.items()}
    return metrics


def _publish(ctx, rows: list[rpt.Row], checkpoints: list[str], md: str, metrics: dict, predictions: list[dict]) -> None:
    """Writes reports/eval.{json,md,png} and the stage's predictions, and logs them to the open MLflow run."""
    import mlflow

    reports = ctx.root / "reports"
    for r in rows:
        for ck, v in r.values.items():
            if v is not None:
                mlflow.log_metric(f"{ck}.{r.benchmark.replace('/', '.')}.{r.metric}", v)
    write_json(reports / "eval.json", metrics)
    atomic_write_text(reports / "eval.md", md)
    png = rpt.bar_plot(rows, checkpoints, reports / "eval.png")
    write_jsonl(ctx.out / "predictions.jsonl", predictions)
    write_json(ctx.out / "rows.json", rpt.as_dicts(rows))
    for p in (reports / "eval.json", reports / "eval.md", png):
        mlflow.log_artifact(str(p), "reports")
