"""`mf_skills`: captions and multiple-choice QA from MIR facts, split by track.

Outputs (under `data/mf_skills/`): `train.jsonl` and `heldout.jsonl`
(Audio Flamingo conversation records), `factcheck.jsonl` (per-item claim
verdicts) and `quarantine.jsonl` (items dropped by the fact checker).
"""

from __future__ import annotations

import random

from omegaconf import DictConfig

from musicflamingo.data import builtin_writer, factcheck
from musicflamingo.data.formats import conversation
from musicflamingo.data.split import heldout_ids
from musicflamingo.data.structured import structured_truth
from musicflamingo.io import read_jsonl, write_jsonl
from musicflamingo.stage import StageContext


def _rng(seed: int, track_id: str) -> random.Random:
    return random.Random(f"{seed}-{track_id}")


def run_mf_skills(cfg: DictConfig, ctx: StageContext) -> dict:
    if cfg.llm.backend != "builtin":
        raise NotImplementedError(f"llm.backend={cfg.llm.backend!r}: only the built-in writer is available in this version")
    tracks = {t["id"]: t for t in read_jsonl(ctx.input("raw_audio") / "tracks.jsonl")}
    facts_by_id = {f["track_id"]: f for f in read_jsonl(ctx.input("mir_metadata") / "tracks.jsonl")}
    held = heldout_ids(sorted(facts_by_id), cfg.skills.heldout_fraction, cfg.skills.min_heldout_tracks)
    train, heldout, checks, dropped, structured = [], [], [], [], []
    for tid, facts in facts_by_id.items():
        track, rng = tracks[tid], _rng(cfg.seed, tid)
        tags = track.get("tags", {})
        # Per-track structured ground truth (unknown stays None): the caption reward and caption eval use it.
        structured.append({"track_id": tid, "split": "heldout" if tid in held else "train", "truth": structured_truth(facts, tags)})
        text = builtin_writer.caption(facts, tags, rng)
        records = [conversation(f"{tid[:12]}-caption", track, rng.choice(builtin_writer.CAPTION_PROMPTS), text, "caption", skill="caption", fact_ids=["tempo_bpm", "key", "time_signature", "chords"])]
        for k, item in enumerate(builtin_writer.mcq_items(facts, tags, rng)[: cfg.skills.qa_per_track]):
            records.append(conversation(
                f"{tid[:12]}-mcq{k}", track, item["prompt"], f"({item['answer_letter']}) {item['answer']}", "mcq",
                options=item["options"], answer=item["answer"], answer_letter=item["answer_letter"], fact_ids=item["fact_ids"], skill=item["skill"],
            ))
        for rec in records:
            verdicts = factcheck.check_text(rec.conversations[1].value, facts)
            fscore = factcheck.score(verdicts)
            checks.append({"id": rec.id, "factuality": fscore, "claims": factcheck.as_dicts(verdicts)})
            if fscore < 1.0:
                dropped.append({"id": rec.id, "reason": "contradicts MIR facts", "claims": factcheck.as_dicts(verdicts)})
                continue
            (heldout if tid in held else train).append(rec.dump())
    write_jsonl(ctx.out / "train.jsonl", train)
    write_jsonl(ctx.out / "heldout.jsonl", heldout)
    write_jsonl(ctx.out / "factcheck.jsonl", checks)
    write_jsonl(ctx.out / "structured.jsonl", structured)
    write_jsonl(ctx.out / "quarantine.jsonl", dropped)
    words = [len(r["conversations"][1]["value"].split()) for r in train + heldout if r["task"] == "caption"]
    return {
        "train_items": len(train),
        "heldout_items": len(heldout),
        "heldout_tracks": len(held),
        "mcq_items": sum(r["task"] == "mcq" for r in train + heldout),
        "mean_caption_words": round(sum(words) / max(len(words), 1), 1),
        "dropped_by_factcheck": len(dropped),
    }
