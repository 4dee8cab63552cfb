"""`mf_think`: chain-of-thought samples for a subset of MF-Skills training QA.

Each reasoning step is fact-checked against the MIR facts; samples with more
than `think.max_bad_step_fraction` contradicted steps are dropped, and the
verdict of every step is stored. Held-out tracks never reach this stage.
"""

from __future__ import annotations

import random

from omegaconf import DictConfig

from musicflamingo.data import builtin_writer, factcheck
from musicflamingo.data.formats import conversation, is_well_tagged
from musicflamingo.io import read_jsonl, write_jsonl
from musicflamingo.stage import StageContext


def run_mf_think(cfg: DictConfig, ctx: StageContext) -> dict:
    facts_by_id = {f["track_id"]: f for f in read_jsonl(ctx.input("mir_metadata") / "tracks.jsonl")}
    items = [r for r in read_jsonl(ctx.input("mf_skills") / "train.jsonl") if r["task"] == "mcq"]
    rng = random.Random(cfg.seed)
    rng.shuffle(items)
    chosen = items[: max(1, round(len(items) * cfg.think.fraction))] if items else []
    samples, dropped = [], []
    for rec in chosen:
        facts = facts_by_id[rec["track_id"]]
        question = rec["conversations"][0]["value"].removeprefix("<sound>\n")
        item = {"prompt": question, "answer": rec["answer"], "answer_letter": rec["answer_letter"], "fact_ids": rec["fact_ids"]}
        made = builtin_writer.think_sample(item, facts, {})
        if made is None:
            dropped.append({"id": rec["id"], "reason": "no reasoning chain for this question type"})
            continue
        human, gpt, steps = made
        verdicts = [factcheck.check_text(s, facts) for s in steps]
        bad = [any(v.verdict == "contradicted" for v in vs) for vs in verdicts]
        if sum(bad) / len(steps) > cfg.think.max_bad_step_fraction or not is_well_tagged(gpt):
            dropped.append({"id": rec["id"], "reason": f"{sum(bad)}/{len(steps)} steps contradict the facts" if any(bad) else "malformed think/answer tags"})
            continue
        track = {"path": rec["sound"], "duration_s": rec["duration"], "id": rec["track_id"]}
        conv = conversation(f"{rec['id']}-think", track, human, gpt, "think", options=rec["options"], answer=rec["answer"], answer_letter=rec["answer_letter"], fact_ids=rec["fact_ids"], skill=rec.get("skill"))
        row = conv.dump()
        row["step_verdicts"] = [{"step": s, "contradicted": b, "claims": factcheck.as_dicts(v)} for s, b, v in zip(steps, bad, verdicts)]
        samples.append(row)
    write_jsonl(ctx.out / "train.jsonl", samples)
    write_jsonl(ctx.out / "quarantine.jsonl", dropped)
    return {"samples": len(samples), "candidates": len(chosen), "dropped": len(dropped)}
