"""`mf_skills`: surface captions, rich captions and five-skill QA from MIR facts, fact-checked and split by track.

Outputs (under `data/mf_skills/`):
- `train.jsonl`, `heldout.jsonl`: Audio Flamingo conversation records (tasks `caption`, `mcq`, `open`);
- `segments.jsonl`: the surface caption of every 30 s window;
- `factcheck.jsonl`: per-item factuality and claim verdicts; `factcheck_report.json`: statistics;
- `quarantine.jsonl`: every item or track that was dropped, with its reason;
- `structured.jsonl`: per-track structured ground truth (the structured-thinking reward uses it);
- `README.md` + `plots/*.png`: the dataset card.

The writer is `cfg.llm.backend` (builtin, openai, transformers). LLM replies
are cached by prompt hash under `.cache/mf_skills/llm`, so an interrupted run
resumes without asking the server again. Only what the facts support is
released (`factcheck`): a caption keeps its supported sentences (when
`skills.repair`, else it is dropped), a QA item with any contradicted or
unverifiable claim in its question or answer is dropped, and surface
captions keep their supported sentences. Writer failures (transport, format,
validation) are counted apart from fact-check drops and get no factuality.
A run that releases nothing fails (`StageFailed`); an endpoint that is down
stops it (`LLMUnavailable`); either way the previous output stays in place.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from musicflamingo.data import factcheck as fc
from musicflamingo.data import known
from musicflamingo.data.card import confidence_section, load_accuracy, write_card
from musicflamingo.data.formats import conversation
from musicflamingo.data.split import heldout_ids
from musicflamingo.data.structured import structured_truth
from musicflamingo.io import read_jsonl, write_json, write_jsonl
from musicflamingo.data.writers import make_writer
from musicflamingo.llm import LLMError
from musicflamingo.stage import StageContext, StageFailed


def _rng(seed: int, track_id: str) -> random.Random:
    return random.Random(f"{seed}-{track_id}")


def _llm_cfg(cfg: DictConfig, ctx: StageContext):
    llm = OmegaConf.to_container(cfg.llm, resolve=True)
    if llm.get("backend") != "builtin" and not llm.get("cache_dir"):
        llm["cache_dir"] = str(ctx.cache_dir / "llm")
    return OmegaConf.create(llm)


def run_mf_skills(cfg: DictConfig, ctx: StageContext) -> dict:
    s = cfg.skills
    writer = make_writer(_llm_cfg(cfg, ctx))
    check = _Release(fc.Tolerances.from_cfg(s.factcheck), strict=writer.name != "builtin", repair=bool(s.repair), judge=_judge(s),
                     surface_strict=getattr(writer, "surface_captioner", None) is not None)
    checks, dropped = check.checks, check.dropped
    tracks = {t["id"]: t for t in read_jsonl(ctx.input("raw_audio") / "tracks.jsonl")}
    # Confidence bands (conf/skills `confidence:`): facts below them are unknown, the middle band is hedged.
    bands = OmegaConf.to_container(cfg.skills.confidence, resolve=True) if cfg.skills.get("confidence") else None
    raw_facts = read_jsonl(ctx.input("mir_metadata") / "tracks.jsonl")
    facts_by_id = {f["track_id"]: known.gate(f, bands) for f in raw_facts}
    for tid in [t for t in facts_by_id if t not in tracks]:
        # Facts without their raw_audio row cannot become conversations (no audio path): quarantined, not skipped silently.
        dropped.append({"id": f"{tid[:12]}-track", "track_id": tid, "reason": "no raw_audio row for this track"})
        del facts_by_id[tid]
    held = heldout_ids(sorted(facts_by_id), s.heldout_fraction, s.min_heldout_tracks)
    order = list(facts_by_id)
    written = _write_all(writer, [(tracks[tid], facts_by_id[tid], _rng(cfg.seed, tid), ctx.root) for tid in order], cfg.llm)
    released: dict[str, list[dict]] = {"train": [], "heldout": []}
    structured, segments = [], []
    for tid, out in zip(order, written):
        facts, track = facts_by_id[tid], tracks[tid]
        tags = track.get("tags", {})
        fx = fc.FactIndex.build(facts, tags)
        split = "heldout" if tid in held else "train"
        # Per-track structured ground truth (unknown stays None): the caption reward and caption eval use it.
        structured.append({"track_id": tid, "split": split, "truth": structured_truth(facts, tags), "tags": tags})
        segments += check.surface(tid, out["surface"], fx)
        for rec, text in check.candidates(tid, track, out, s.mcq_per_track, s.open_per_track):
            if check.release(rec, text, tid, fx, facts, tags):
                released[split].append(rec.dump())
    train, heldout = released["train"], released["heldout"]
    rows = train + heldout
    report = check.report
    if not rows and order:
        # Nothing usable is a failure, not an empty "successful" dataset (the previous output stays in place).
        raise StageFailed(f"mf_skills released 0 items from {len(order)} tracks: {report.writer_errors} writer errors "
                           f"({_top(report.writer_error_reasons)}), {report.dropped} dropped by the fact check (writer {writer.name})")
    outputs = {"train": train, "heldout": heldout, "segments": segments, "factcheck": checks, "structured": structured, "quarantine": dropped}
    for name, table in outputs.items():
        write_jsonl(ctx.out / f"{name}.jsonl", table)
    write_json(ctx.out / "factcheck_report.json", report.as_dict())
    words = [len(r["conversations"][1]["value"].split()) for r in rows if r["task"] == "caption"]
    summary = {
        "writer": writer.name,
        "train_items": len(train),
        "heldout_items": len(heldout),
        "heldout_tracks": len(held),
        "mcq_items": sum(r["task"] == "mcq" for r in rows),
        "open_items": sum(r["task"] == "open" for r in rows),
        "mean_caption_words": round(sum(words) / max(len(words), 1), 1),
        "dropped_by_factcheck": report.dropped,
        "writer_errors": report.writer_errors,
        "repaired_by_factcheck": report.repaired,
        "mean_factuality": report.as_dict()["mean_factuality"],
    }
    write_card(ctx.out, "mf_skills", rows, checks, dropped, summary, extra=confidence_section(raw_facts, bands, load_accuracy()))
    return summary


def _judge(skills: DictConfig):
    """The optional LLM judge on top of the rule checker (`skills.judge`), or None."""
    if not (skills.judge and skills.judge.get("backend")):
        return None
    from musicflamingo.data.writers import LLMJudge, make_chat_backend

    return LLMJudge(make_chat_backend(skills.judge))


def _write_all(writer, jobs: list[tuple], llm: DictConfig) -> list[dict]:
    """`_write_track` for every (track, facts, rng, root) job, in job order; LLM requests for several tracks
    are in flight at once (bounded by llm.concurrency)."""
    workers = int(llm.get("concurrency", 1)) if writer.name != "builtin" else 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(tqdm(pool.map(lambda job: _write_track(writer, *job), jobs), total=len(jobs), desc="mf_skills", unit="track", disable=None))


@dataclass
class _Release:
    """The fact check of one run: its settings, and the checks, drops and statistics it records.

    Only what the facts support is released: contradicted and unverifiable claims both block. `strict`:
    numbers are checked too (an LLM writer; the built-in one computes each from the facts);
    `surface_strict`: the same for surface captions (an audio model may invent)."""

    tol: fc.Tolerances
    strict: bool
    surface_strict: bool
    repair: bool
    judge: object | None
    report: fc.Report = field(default_factory=fc.Report)
    checks: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)

    def surface(self, tid: str, captions: list[str], fx) -> list[dict]:
        """`segments.jsonl` rows: each surface caption's supported sentences."""
        rows = []
        for i, c in enumerate(captions):
            kept, withheld = fc.release(c, fx, self.tol, strict=self.surface_strict)
            rows.append({"track_id": tid, "index": i, "caption": kept, **({"sentences_withheld": len(withheld)} if withheld else {})})
        return rows

    def candidates(self, tid: str, track: dict, out: dict, mcq_per_track: int, open_per_track: int) -> list[tuple[object, str]]:
        """(conversation record, text to check) for the track's caption and QA; writer failures are recorded as drops."""
        rng = out["rng"]
        records: list[tuple[object, str]] = []
        if out["caption"] is not None:
            text = out["caption"]
            records.append((conversation(f"{tid[:12]}-caption", track, rng.choice(_caption_prompts()), text, "caption", skill="caption",
                                         fact_ids=["tempo_bpm", "key", "time_signature", "chords", "sections", "tags"]), text))
        else:
            self.dropped.append({"id": f"{tid[:12]}-caption", "track_id": tid, "reason": f"caption: {out['caption_error']}"})
            self.report.writer_error("caption: " + _error_class(out["caption_error"]))
        items, rejected = out["items"], out["rejected"]
        for r in rejected:
            self.dropped.append({"id": f"{tid[:12]}-qa", "track_id": tid, "reason": f"qa: {r['reason']}", "item": r.get("item")})
            self.report.writer_error("qa: " + _error_class(r["reason"]))
        mcq = _balanced([it for it in items if it["task"] == "mcq"], mcq_per_track)
        opn = _balanced([it for it in items if it["task"] == "open"], open_per_track)
        for k, item in enumerate(mcq + opn):
            extra = {"options": item.get("options"), "answer_letter": item.get("answer_letter")} if item["task"] == "mcq" else {}
            reply = f"({item['answer_letter']}) {item['answer']}" if item["task"] == "mcq" else item["answer"]
            rec = conversation(f"{tid[:12]}-{item['task']}{k}", track, item["prompt"], reply, item["task"], answer=item["answer"],
                               fact_ids=item["fact_ids"], skill=item["skill"], qtype=item.get("qtype"), **extra)
            # The question is checked with the answer: a false premise ("the chorus at 0:45") is a contradiction too.
            records.append((rec, f"{item['question']} {item['answer']}"))
        return records

    def release(self, rec, text: str, tid: str, fx, facts: dict, tags: dict) -> bool:
        """Check `text` (the record's claims): kept, repaired (a caption loses its unsupported sentences) or
        dropped; then the optional judge. Records the outcome; True when `rec` is released."""
        verdicts = fc.check_text(text, fx, tol=self.tol, strict=self.strict)
        fscore = fc.score(verdicts)
        row = {"id": rec.id, "track_id": tid, "task": rec.task, "skill": rec.skill, "factuality": fscore, "claims": fc.as_dicts(verdicts)}
        if fscore < self.tol.min_factuality or fc.blocking(verdicts):
            fixed = fc.repair(text, fx, self.tol, strict=self.strict) if self.repair and rec.task == "caption" else None
            if fixed is None:
                bad = fc.contradicted(verdicts)
                head = "contradicts MIR facts: " if bad else "unverifiable claims: "
                bad = bad or fc.blocking(verdicts)
                reason = head + "; ".join(f"{v.kind} {v.claim!r} ({v.reason})" for v in bad[:3])
                self.dropped.append({"id": rec.id, "track_id": tid, "reason": reason, "claims": fc.as_dicts(bad)})
                self.report.add(verdicts, "dropped", head.split(":")[0].replace("MIR ", "") + ": " + ",".join(sorted({v.kind for v in bad})))
                self.checks.append({**row, "outcome": "dropped"})
                return False
            rec.conversations[1].value = fixed
            row["sentences_withheld"] = len(fc.sentences(text)) - len(fc.sentences(fixed))
            self.report.add(verdicts, "repaired")
            self.checks.append({**row, "outcome": "repaired"})
        else:
            self.report.add(verdicts, "kept")
            self.checks.append({**row, "outcome": "kept"})
        return self.judge is None or self._judged(rec, text, tid, facts, tags)

    def _judged(self, rec, text: str, tid: str, facts: dict, tags: dict) -> bool:
        try:
            ok, found = self.judge.judge(rec.conversations[1].value if rec.task == "caption" else text, facts, tags)
        except LLMError as exc:  # the rule checker already passed the item; the judge's failure is recorded, not fatal
            self.checks[-1]["judge"] = f"unavailable: {exc.reason}"
            return True
        self.checks[-1]["judge"] = "pass" if ok else "fail"
        if not ok:
            self.dropped.append({"id": rec.id, "track_id": tid, "reason": "LLM judge: " + "; ".join(found)[:500]})
            self.report.reclassify(self.checks[-1]["outcome"], "dropped", "LLM judge")
            self.checks[-1]["outcome"] = "dropped"
        return ok


def _write_track(writer, track: dict, facts: dict, rng: random.Random, root) -> dict:
    """Everything the writer produces for one track; a writer failure becomes a reason, never an exception."""
    tags = track.get("tags", {})
    out = {"rng": rng, "surface": [], "caption": None, "caption_error": None, "items": [], "rejected": []}
    try:
        out["surface"] = writer.surface_captions(facts, tags, rng, root / track["path"])
        out["caption"] = writer.caption(facts, tags, rng, out["surface"])
    except (LLMError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        out["caption_error"] = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    try:
        out["items"], out["rejected"] = writer.qa(facts, tags, rng)
    except LLMError as exc:
        out["rejected"] = [{"index": None, "reason": exc.reason}]
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # facts row missing or malformed fields
        out["rejected"] = [{"index": None, "reason": f"{type(exc).__name__}: {exc}"}]
    return out


def _error_class(reason: str | None) -> str:
    """A short class for a writer error ("HTTP 500", "reply is not JSON"), for the report's counts."""
    text = (reason or "unknown").split(" (after ")[0]
    return text.split(":")[0][:60] if text.startswith(("HTTP", "invalid item", "request failed")) else text[:60]


def _top(counter) -> str:
    return "; ".join(f"{k} x{v}" for k, v in counter.most_common(3)) or "none"


def _balanced(items: list[dict], limit: int) -> list[dict]:
    """At most `limit` items, taken round-robin over the skill families so no family is crowded out."""
    by_skill: dict[str, list[dict]] = {}
    for it in items:
        by_skill.setdefault(it["skill"], []).append(it)
    out: list[dict] = []
    while len(out) < limit and any(by_skill.values()):
        for queue in by_skill.values():
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out


def _caption_prompts() -> list[str]:
    from musicflamingo.data.builtin_writer import CAPTION_PROMPTS

    return CAPTION_PROMPTS
