"""Writers: what the data stages call to get captions, QA and reasoning for a track.

`BuiltinWriter` is the deterministic, fact-grounded writer (no model).
`LLMWriter` fills the prompt templates and asks a chat backend for JSON; a
reply that cannot be used raises `LLMError` with the reason, which the stage
turns into a quarantine row. Either way the stage fact-checks what comes back.
"""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from musicflamingo.data import builtin_writer as bw
from musicflamingo.data import known
from musicflamingo.data import theory as th
from musicflamingo.data.formats import LETTERS, mcq_prompt
from musicflamingo.llm.base import LLMError
from musicflamingo.llm.prompts import render

CAPTION_SCHEMA = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"], "additionalProperties": False}
QA_SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "skill": {"type": "string", "enum": list(bw.SKILLS)},
            "qtype": {"type": "string"}, "question": {"type": "string"},
            "options": {"type": "array", "items": {"type": "string"}},
            "answer": {"type": "string"}, "fact_ids": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["skill", "qtype", "question", "options", "answer", "fact_ids"], "additionalProperties": False}}},
    "required": ["items"], "additionalProperties": False,
}
THINK_SCHEMA = {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}}, "answer_letter": {"type": "string"}},
                "required": ["steps", "answer_letter"], "additionalProperties": False}
JUDGE_SCHEMA = {"type": "object", "properties": {"contradictions": {"type": "array", "items": {"type": "string"}},
                                                "verdict": {"type": "string", "enum": ["pass", "fail"]}},
                "required": ["contradictions", "verdict"], "additionalProperties": False}
MAX_TEXT_CHARS = 12_000  # bound on any one generated field


class QAReply(BaseModel):
    skill: str
    qtype: str = "llm"
    question: str = Field(min_length=5, max_length=1000)
    options: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1, max_length=2000)
    fact_ids: list[str] = Field(min_length=1)


def facts_prompt_values(facts: dict, tags: dict, surface: list[str] | None = None) -> dict:
    """The facts as short strings for `facts.jinja` (bounded: at most 40 chords and 60 words).
    An absent fact reads "unknown" or is left out (`data.known`); numerals and cadences need a known key."""
    key, tempo = known.key(facts), known.tempo(facts)
    chords = th.merged(th.chords_of(facts))
    fmt = bw.fmt_time
    cads = th.cadences(th.chords_of(facts), key, facts.get("downbeats")) if chords and key else []
    lufs, lra, bright, onsets = (known.number(facts, n) for n in ("loudness_lufs", "loudness_range_lu", "brightness_hz", "onset_density"))
    return {
        "duration": fmt(facts["duration_s"]),
        "tempo": f"{tempo:.1f} BPM" if tempo else "unknown",
        "tempo_confidence": known.number(facts, "tempo_confidence") if tempo else None,
        "tempo_alternatives": ", ".join(f"{x:.1f} BPM" for x in map(known.as_number, facts.get("tempo_alternatives") or []) if x),
        "meter": known.meter(facts) or "unknown", "key": key or "unknown", "key_confidence": known.number(facts, "key_confidence") if key else None,
        "key_alternatives": ", ".join(k for k in (known.as_key(k[0] if isinstance(k, (list, tuple)) else k) for k in facts.get("key_alternatives") or []) if k),
        "per_tool": _tool_readings(facts.get("per_tool")),
        "chords": ", ".join(f"{fmt(c.start)} {c.name}" + (f" ({th.roman(c, key)})" if key else "") for c in chords[:40]) + (" ..." if len(chords) > 40 else ""),
        "cadences": ", ".join(f"{c.kind} at {fmt(c.time)} ({c.approach}, {c.numerals})" for c in cads[:8]),
        "harmonic_rhythm": known.number(facts, "harmonic_rhythm"),
        "sections": ", ".join(f"{lab} {fmt(s)}-{fmt(e)}" for s, e, lab in known.sections(facts)),
        "section_keys": ", ".join(f"{fmt(s)}-{fmt(e)} {k}" for s, e, k in known.section_keys(facts)),
        "loudness": ", ".join(([f"{lufs:.1f} LUFS"] if lufs is not None else []) + ([f"range {lra:.1f} LU"] if lra is not None else [])),
        "brightness": f"{bright:.0f} Hz" if bright is not None else None,
        "onset_density": f"{onsets:.1f} onsets/s" if onsets is not None else None,
        "vocals": {True: "yes", False: "no (instrumental)"}.get(facts.get("vocals"), "unknown"),
        "lyrics": known.lyrics(facts)[:500],
        "words": ", ".join(f"{fmt(s)} {w}" for s, _, w in known.sung_words(facts)[:60]),
        "instruments": ", ".join(tags.get("instruments") or []), "tradition": tags.get("tradition") or tags.get("genre"),
        "surface": surface or [],
    }


def _tool_readings(per_tool) -> str:
    """`'madmom: tempo_bpm=71.0; essentia: key=G major'`: only the readings a tool actually gave."""
    rows = []
    for tool, vals in (per_tool or {}).items():
        given = [f"{k}={vals[k]}" for k in ("tempo_bpm", "key", "key_confidence") if isinstance(vals, dict) and vals.get(k) not in (None, "", "unknown")]
        if given:
            rows.append(f"{tool}: " + ", ".join(given))
    return "; ".join(rows)


class BuiltinWriter:
    name = "builtin"

    def surface_captions(self, facts: dict, tags: dict, rng: random.Random, track_path: Path | None = None) -> list[str]:
        return [bw.surface_caption(s, facts, tags, rng) for s in facts.get("segments") or [] if s["end_s"] - s["start_s"] >= 5]

    def caption(self, facts: dict, tags: dict, rng: random.Random, surface: list[str]) -> str:
        return bw.caption(facts, tags, rng, surface)

    def qa(self, facts: dict, tags: dict, rng: random.Random) -> tuple[list[dict], list[dict]]:
        return bw.qa_items(facts, tags, rng), []

    def think_steps(self, item: dict, facts: dict, tags: dict) -> list[str] | None:
        return bw.think_steps(item, facts, tags)


class LLMWriter:
    """Captions, QA and reasoning from a chat backend, with the prompts in `musicflamingo/prompts/`."""

    def __init__(self, chat, target_words: int = 450, qa_items: int = 10, surface_captioner=None):
        self.chat, self.target_words, self.n_items = chat, target_words, qa_items
        self.surface_captioner = surface_captioner
        self.name = f"llm:{chat.name}"

    def _ask(self, template: str, schema: dict, name: str, **values) -> dict:
        messages = [{"role": "system", "content": render("system.jinja")}, {"role": "user", "content": render(template, **values)}]
        reply = self.chat.chat(messages, schema=schema, schema_name=name)
        if reply.data is None:
            raise LLMError("no JSON object in the reply")
        return reply.data

    def surface_captions(self, facts: dict, tags: dict, rng: random.Random, track_path: Path | None = None) -> list[str]:
        if self.surface_captioner is None or track_path is None:
            return BuiltinWriter().surface_captions(facts, tags, rng)
        from musicflamingo.llm.audio_caption import segment_wav_bytes

        return [f"{bw.fmt_time(s['start_s'])}-{bw.fmt_time(s['end_s'])}: " + self.surface_captioner.caption(segment_wav_bytes(track_path, s["start_s"], s["end_s"]), tags)
                for s in facts.get("segments") or [] if s["end_s"] - s["start_s"] >= 5]

    def caption(self, facts: dict, tags: dict, rng: random.Random, surface: list[str]) -> str:
        data = self._ask("caption.jinja", CAPTION_SCHEMA, "caption", target_words=self.target_words, **facts_prompt_values(facts, tags, surface))
        text = data.get("caption")
        if not isinstance(text, str) or len(text.split()) < 20:
            raise LLMError("caption missing or shorter than 20 words")
        return text[:MAX_TEXT_CHARS]

    def qa(self, facts: dict, tags: dict, rng: random.Random) -> tuple[list[dict], list[dict]]:
        """(usable items, rejected items with reasons)."""
        data = self._ask("qa.jinja", QA_SCHEMA, "qa", n_items=self.n_items, **facts_prompt_values(facts, tags))
        raw = data.get("items")
        if not isinstance(raw, list):
            raise LLMError("reply has no list of items")
        items, rejected = [], []
        for k, entry in enumerate(raw[: 3 * self.n_items]):
            try:
                qa = QAReply.model_validate(entry)
            except ValidationError as exc:
                rejected.append({"index": k, "reason": f"invalid item: {exc.errors()[0]['msg']}", "item": entry})
                continue
            if qa.skill not in bw.SKILLS:
                rejected.append({"index": k, "reason": f"unknown skill {qa.skill!r}", "item": entry})
                continue
            if qa.options:
                if len(qa.options) != 4 or len(set(qa.options)) != 4 or qa.answer not in qa.options:
                    rejected.append({"index": k, "reason": "multiple choice needs 4 distinct options containing the answer", "item": entry})
                    continue
                letter = LETTERS[qa.options.index(qa.answer)]
                items.append({"task": "mcq", "skill": qa.skill, "qtype": qa.qtype, "question": qa.question, "options": qa.options,
                              "answer": qa.answer, "answer_letter": letter, "fact_ids": qa.fact_ids, "prompt": mcq_prompt(qa.question, qa.options)})
            else:
                items.append({"task": "open", "skill": qa.skill, "qtype": qa.qtype, "question": qa.question, "answer": qa.answer,
                              "fact_ids": qa.fact_ids, "prompt": qa.question})
        return items, rejected

    def think_steps(self, item: dict, facts: dict, tags: dict) -> list[str] | None:
        data = self._ask("think.jinja", THINK_SCHEMA, "think", question=item["prompt"], answer=item["answer"],
                         answer_letter=item["answer_letter"], **facts_prompt_values(facts, tags))
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) and s.strip() for s in steps):
            raise LLMError("reasoning has no steps")
        if data.get("answer_letter") != item["answer_letter"]:
            raise LLMError(f"reasoning ends on ({data.get('answer_letter')}), the answer is ({item['answer_letter']})")
        return [s.strip()[:2000] for s in steps[:20]]


class LLMJudge:
    """The optional judge on top of the rule checker: an LLM reads the facts and the text and lists contradictions."""

    def __init__(self, chat):
        self.chat = chat

    def judge(self, text: str, facts: dict, tags: dict) -> tuple[bool, list[str]]:
        messages = [{"role": "system", "content": render("system.jinja")},
                    {"role": "user", "content": render("judge.jinja", text=text[:MAX_TEXT_CHARS], **facts_prompt_values(facts, tags))}]
        data = self.chat.chat(messages, schema=JUDGE_SCHEMA, schema_name="judge").data or {}
        found = [str(c)[:300] for c in data.get("contradictions") or []][:10]
        verdict = data.get("verdict")
        if verdict not in ("pass", "fail"):
            raise LLMError("judge reply has no pass/fail verdict")
        return verdict == "pass" and not found, found


def make_chat_backend(cfg):
    if cfg.backend == "openai":
        from musicflamingo.llm.openai_backend import OpenAIChat, OpenAIConfig

        return OpenAIChat(OpenAIConfig.from_cfg(cfg))
    if cfg.backend == "transformers":
        from musicflamingo.llm.transformers_backend import TransformersChat, TransformersConfig

        return TransformersChat(TransformersConfig.from_cfg(cfg))
    raise ValueError(f"unknown chat backend {cfg.backend!r} (builtin, openai, transformers)")


def make_surface_captioner(cfg):
    """None for the built-in DSP captions; otherwise the `audio-model` captioner from `llm.surface`."""
    scfg = cfg.get("surface") or {}
    if scfg.get("backend", "builtin") == "builtin":
        return None
    if scfg.get("backend") != "audio-model":
        raise ValueError(f"unknown surface caption backend {scfg.get('backend')!r} (builtin, audio-model)")
    from musicflamingo.llm import audio_caption

    if scfg.get("model_path"):
        return audio_caption.LocalAudioCaptioner(scfg["model_path"])
    from musicflamingo.llm.openai_backend import OpenAIChat, OpenAIConfig

    return audio_caption.ServedAudioCaptioner(OpenAIChat(OpenAIConfig.from_cfg(scfg)))


def make_writer(cfg):
    """The writer named by `cfg.backend` (a `conf/llm/*.yaml` node)."""
    if cfg.backend == "builtin":
        return BuiltinWriter()
    return LLMWriter(make_chat_backend(cfg), int(cfg.get("target_words", 450)), int(cfg.get("qa_items", 10)), make_surface_captioner(cfg))


__all__ = ["BuiltinWriter", "LLMWriter", "make_writer", "make_chat_backend", "facts_prompt_values"]
