"""`mf_think`: verified chains of thought for the hard MF-Skills training questions.

1. Select: every multiple-choice training item that is *hard* — the MIR tools
   disagree on the fact it asks about (`per_tool`, `tempo_alternatives`,
   `key_alternatives`), the fact's confidence is low, or the question needs
   several hops (Roman numerals, cadences, a chord or word at a time,
   comparisons) — plus a seeded random share (`think.fraction`) of the rest.
2. Generate `<think>...</think><answer>...</answer>` with the configured writer.
3. Split into steps and fact-check each step. A plain whole-track claim whose
   only error is a wrong tempo, key or meter is rewritten with the track's own
   value and checked again; any other unsupported step (a modulation that does
   not exist, a timed or attributed claim, an unverifiable one) is removed. A
   sample with more than `think.max_bad_step_fraction` such steps is dropped.
   Every step's verdicts are stored; the text of a step that was not released
   as is is not.
Held-out tracks never reach this stage (it reads `mf_skills/train.jsonl` only).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
import re

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from musicflamingo.data import factcheck as fc
from musicflamingo.data import known
from musicflamingo.data.builtin_writer import think_from_steps
from musicflamingo.data.card import write_card
from musicflamingo.data.formats import conversation
from musicflamingo.pitch import enharmonics
from musicflamingo.think_answer import is_well_formed
from musicflamingo.data.skills_stage import _llm_cfg
from musicflamingo.io import read_jsonl, write_json, write_jsonl
from musicflamingo.data.writers import make_writer
from musicflamingo.llm import LLMError
from musicflamingo.stage import StageContext, StageFailed

MULTI_HOP = {"roman_numeral", "cadence", "cadence_time", "chord_at_time", "compare_halves", "section_start", "word_at_time", "longest_section"}
LOW_CONFIDENCE = 0.6
_REWRITABLE = {"tempo", "key", "meter"}


def hardness(item: dict, facts: dict) -> list[str]:
    """Why an item is hard (empty when it is not)."""
    why = []
    fids = set(item.get("fact_ids") or [])
    per_tool = [v for v in (facts.get("per_tool") or {}).values() if isinstance(v, dict)]
    tempo = known.tempo(facts)
    if "tempo_bpm" in fids and tempo:
        tempi = [t for t in [known.tempo(v) for v in per_tool] + [known.as_number(x) for x in facts.get("tempo_alternatives") or []] if t]
        if any(abs(t - tempo) > 0.04 * tempo for t in tempi):
            why.append("tools disagree on tempo")
        if (facts.get("tempo_confidence") or 1.0) < LOW_CONFIDENCE:
            why.append("low tempo confidence")
    if "key" in fids:
        keys = {known.as_key(v.get("key")) for v in per_tool} | {known.as_key(k[0] if isinstance(k, (list, tuple)) else k) for k in facts.get("key_alternatives") or []}
        if keys - {known.key(facts), None}:
            why.append("tools disagree on key")
        if (facts.get("key_confidence") or 1.0) < LOW_CONFIDENCE:
            why.append("low key confidence")
    if item.get("qtype") in MULTI_HOP:
        why.append("multi-hop question")
    return why


def rewrite_step(step: str, verdicts: list[fc.Verdict], facts: dict) -> str | None:
    """Replace a false tempo, key or meter with the track's own value; None when that would not make a true step.

    Only a plain claim about the whole track is rewritten: a step that is timed ("at 0:42 ... F major"), talks
    about a modulation or a tool's reading, or has any other unsupported claim is dropped instead, because
    the true statement (a modulation that does not exist, say) is not in the facts.
    """
    bad = fc.blocking(verdicts)
    if not bad or any(v.kind not in _REWRITABLE or v.verdict != "contradicted" or v.claim.startswith("not ") for v in bad):
        return None
    if fc._times(step) or fc._MODULATION_RE.search(step) or fc._ATTRIBUTED_RE.search(step):
        return None
    out = step
    for v in bad:
        if v.kind == "tempo" and facts.get("tempo_bpm"):
            out, n = re.subn(re.escape(v.claim), f"{facts['tempo_bpm']:.0f} BPM", out, count=1)
        elif v.kind == "key" and facts.get("key"):
            tonic, mode = v.claim.split()
            alts = [tonic] + enharmonics(tonic)  # the claim's spelling first
            for name in alts:
                out, n = re.subn(rf"\b{re.escape(name)}(\s|-)+{mode}\b", facts["key"], out, count=1)
                if n:
                    break
        elif v.kind == "meter" and facts.get("time_signature") not in (None, "unknown"):
            out, n = re.subn(r"\b\d{1,2}/\d{1,2}\b", facts["time_signature"], out, count=1)
        else:
            return None
        if not n:
            return None  # the false value is not written the way the checker read it: do not guess
    return out


def _verdict_row(verdicts: list[fc.Verdict]) -> list[dict]:
    """Claim verdicts for a released row: kind, verdict and the fact it was checked against, never a false value."""
    return [{"kind": v.kind, "verdict": v.verdict, "reason": v.reason, **({"claim": v.claim} if v.verdict == "supported" else {})}
            for v in verdicts]


def verify_steps(steps: list[str], fx: fc.FactIndex, facts: dict, tol: fc.Tolerances,
                 strict: bool = True) -> tuple[list[str], list[dict], int]:
    """(released steps, per-step verdict rows, number of erroneous steps before rewriting).

    A step is released as is when every claim is supported; rewritten (`rewrite_step`) and checked again; or
    removed. The rows keep each step's verdicts; the text of a step that was not released as is is not kept.
    """
    released, rows, n_bad = [], [], 0
    for k, step in enumerate(steps):
        verdicts = fc.check_text(step, fx, tol=tol, strict=strict)
        bad = fc.blocking(verdicts)
        row = {"index": k, "contradicted": bool(fc.contradicted(verdicts)), "unverifiable": any(v.verdict == "unverifiable" for v in bad),
               "claims": _verdict_row(verdicts), "outcome": "kept"}
        if bad:
            n_bad += 1
            fixed = rewrite_step(step, verdicts, facts)
            if fixed is not None and not fc.blocking(fc.check_text(fixed, fx, tol=tol, strict=strict)):
                row.update(outcome="rewritten", rewritten=fixed)
                released.append(fixed)
            else:
                row["outcome"] = "removed"
        else:
            row["step"] = step
            released.append(step)
        rows.append(row)
    return released, rows, n_bad


def run_mf_think(cfg: DictConfig, ctx: StageContext) -> dict:
    t = cfg.think
    writer = make_writer(_llm_cfg(cfg, ctx))
    tol = fc.Tolerances.from_cfg(cfg.skills.get("factcheck"))
    # Confidence bands (conf/skills `confidence:`): facts below them are unknown, the middle band is hedged.
    bands = OmegaConf.to_container(cfg.skills.confidence, resolve=True) if cfg.skills.get("confidence") else None
    facts_by_id = {f["track_id"]: known.gate(f, bands) for f in read_jsonl(ctx.input("mir_metadata") / "tracks.jsonl")}
    tags_by_id = {r["track_id"]: r.get("tags", {}) for r in read_jsonl(ctx.input("mf_skills") / "structured.jsonl")}
    items = [r for r in read_jsonl(ctx.input("mf_skills") / "train.jsonl") if r["task"] == "mcq"]
    rng = random.Random(cfg.seed)
    rng.shuffle(items)
    hard = {r["id"]: hardness(r, facts_by_id[r["track_id"]]) for r in items}
    rest = [r for r in items if not hard[r["id"]]]
    chosen = [r for r in items if hard[r["id"]]] + rest[: round(len(rest) * t.fraction)]
    samples, dropped, checks = [], [], []
    n_rewritten = n_removed = n_writer_errors = 0
    items_of = [_item(rec) for rec in chosen]
    generated = _generate(writer, cfg.llm, [(item, facts_by_id[rec["track_id"]], tags_by_id.get(rec["track_id"], {})) for rec, item in zip(chosen, items_of)])
    for rec, item, (steps, error) in zip(chosen, items_of, generated):
        facts, tags = facts_by_id[rec["track_id"]], tags_by_id.get(rec["track_id"], {})
        fx = fc.FactIndex.build(facts, tags)
        if error:
            dropped.append({"id": rec["id"], "reason": f"writer: {error}"})
            n_writer_errors += 1  # never checked: no factuality is reported for it
            continue
        if not steps:
            dropped.append({"id": rec["id"], "reason": "no reasoning chain for this question type"})
            continue
        released, step_rows, n_bad = verify_steps(steps, fx, facts, tol, strict=writer.name != "builtin")
        frac = n_bad / len(steps)
        checks.append({"id": rec["id"], "factuality": 1 - frac, "steps": len(steps), "bad_steps": n_bad})
        if frac > t.max_bad_step_fraction:
            dropped.append({"id": rec["id"], "reason": f"{n_bad}/{len(steps)} steps contradict the facts", "step_verdicts": step_rows})
            continue
        if not released:
            dropped.append({"id": rec["id"], "reason": "no step survived the fact check", "step_verdicts": step_rows})
            continue
        human, gpt = think_from_steps(item, released)
        if not is_well_formed(gpt):
            dropped.append({"id": rec["id"], "reason": "malformed think/answer tags"})
            continue
        n_rewritten += sum(r["outcome"] == "rewritten" for r in step_rows)
        n_removed += sum(r["outcome"] == "removed" for r in step_rows)
        samples.append(_sample(rec, human, gpt, hard[rec["id"]], step_rows))
    if chosen and not samples:
        # Nothing usable is a failure, not an empty "successful" dataset (the previous output stays in place).
        raise StageFailed(f"mf_think released 0 samples from {len(chosen)} candidates: {n_writer_errors} writer errors, "
                           f"{len(dropped) - n_writer_errors} dropped by the fact check or format (writer {writer.name})")
    write_jsonl(ctx.out / "train.jsonl", samples)
    write_jsonl(ctx.out / "quarantine.jsonl", dropped)
    summary = {
        "writer": writer.name, "samples": len(samples), "candidates": len(chosen),
        "hard_candidates": sum(bool(hard[r["id"]]) for r in chosen), "dropped": len(dropped), "writer_errors": n_writer_errors,
        "steps_rewritten": n_rewritten, "steps_removed": n_removed,
    }
    write_json(ctx.out / "factcheck_report.json", {**summary, "drop_reasons": _count(d["reason"] for d in dropped)})
    write_card(ctx.out, "mf_think", samples, checks, dropped, summary, text_task="think")
    return summary


def _generate(writer, llm: DictConfig, jobs: list[tuple[dict, dict, dict]]) -> list[tuple]:
    """`_steps` for every (item, facts, tags) job, in job order: several LLM requests in flight at once (bounded by llm.concurrency)."""
    workers = int(llm.get("concurrency", 1)) if writer.name != "builtin" else 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(tqdm(pool.map(lambda job: _steps(writer, *job), jobs), total=len(jobs), desc="mf_think", unit="item", disable=None))


def _sample(rec: dict, human: str, gpt: str, hard_because, step_rows: list[dict]) -> dict:
    """The MF-Think conversation record of a checked chain, with why it was chosen and each step's verdict."""
    track = {"path": rec["sound"], "duration_s": rec["duration"], "id": rec["track_id"]}
    conv = conversation(f"{rec['id']}-think", track, human, gpt, "think", options=rec["options"], answer=rec["answer"],
                        answer_letter=rec["answer_letter"], fact_ids=rec["fact_ids"], skill=rec.get("skill"), qtype=rec.get("qtype"))
    row = conv.dump()
    row["hard_because"] = hard_because
    row["step_verdicts"] = step_rows
    return row


def _item(rec: dict) -> dict:
    question = rec["conversations"][0]["value"].removeprefix("<sound>\n")
    return {"prompt": question, "answer": rec["answer"], "answer_letter": rec["answer_letter"], "fact_ids": rec["fact_ids"], "qtype": rec.get("qtype")}


def _steps(writer, item: dict, facts: dict, tags: dict) -> tuple[list[str] | None, str | None]:
    try:
        return writer.think_steps(item, facts, tags), None
    except LLMError as exc:
        return None, exc.reason


def _count(reasons) -> dict:
    from collections import Counter

    return dict(Counter(re.sub(r"\d+/\d+", "n/m", r) for r in reasons).most_common())


__all__ = ["run_mf_think", "hardness", "rewrite_step", "verify_steps"]
