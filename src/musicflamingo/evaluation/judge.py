"""Optional LLM judge for captions, against any OpenAI-compatible
`/chat/completions` server (vLLM, llama.cpp, Ollama, OpenAI, ...), through the
project's one client (`llm.openai_backend.OpenAIChat`: total deadline per
request, size bound, retries with backoff honouring Retry-After, circuit
breaker).

The SongCaps numbers in the paper are judge scores on two axes, coverage and
correctness, on a 0-10 scale; `RUBRIC` (`prompts/caption_judge_rubric.jinja`)
is the rubric we send, printed in the report; the user turn is
`prompts/caption_judge.jinja`. Connection settings come from the
`eval.judge` config or the environment, never from code; the key only from
the environment:

    base_url  MF_JUDGE_BASE_URL  e.g. http://127.0.0.1:8000/v1 ("/chat/completions" is appended)
    model     MF_JUDGE_MODEL
    api key   MF_JUDGE_API_KEY   (or the variable `api_key_env` names); sent as "Authorization: Bearer ..."

Config keys win over the environment. Further optional keys: timeout_s (total
per request), max_retries, backoff_s, max_backoff_s, concurrency, temperature,
max_tokens, breaker_failures, json_mode (ask for
response_format={"type": "json_object"}; off by default because not every
server accepts it). Each item comes back as {"coverage", "correctness", "raw"}
or {"error": reason}; `judge_captions` never raises for one bad item (a
missing base URL or model, or a key in the config, is a configuration error
and does raise, before any request).
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Sequence

from musicflamingo.data.structured import CATEGORIES
from musicflamingo.llm.base import LLMError
from musicflamingo.llm.openai_backend import OpenAIChat, OpenAIConfig
from musicflamingo.llm.prompts import render
from musicflamingo.think_answer import strip_think

RUBRIC = render("caption_judge_rubric.jinja")
ENV_PREFIX = "MF_JUDGE"
# The judge grades; it does not write: deterministic and short unless configured otherwise.
DEFAULTS = {"temperature": 0.0, "max_tokens": 512}


class JudgeConfigError(ValueError):
    """The judge is not configured (no base URL or model) or a setting is invalid."""


class JudgeOutputError(ValueError):
    """The judge answered, but not with the JSON object the rubric asks for."""


def _as_bool(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


_CONVERT = {
    "base_url": str, "model": str, "api_key": str, "api_key_env": str, "timeout_s": float, "max_retries": int,
    "backoff_s": float, "max_backoff_s": float, "concurrency": int, "temperature": float, "max_tokens": int,
    "breaker_failures": int, "json_mode": _as_bool,
}


def judge_config(cfg: Mapping | None = None, env: Mapping[str, str] | None = None) -> OpenAIConfig:
    """The client settings from an `eval.judge` mapping, falling back to MF_JUDGE_* environment variables."""
    cfg = {k: v for k, v in dict(cfg or {}).items() if v is not None}
    unknown = sorted(set(cfg) - set(_CONVERT))
    if unknown:
        raise JudgeConfigError(f"unknown judge settings {unknown}; known: {sorted(_CONVERT)}")
    try:
        values = {k: _CONVERT[k](v) for k, v in cfg.items()}
        values["json_mode"] = "json_object" if values.pop("json_mode", False) else "none"
        conf = OpenAIConfig.from_cfg({**DEFAULTS, **values}, section="eval.judge", env_prefix=ENV_PREFIX, environ=env)
    except (TypeError, ValueError) as e:
        raise JudgeConfigError(f"LLM judge not configured: {e}") from e
    if not conf.base_url.startswith(("http://", "https://")):
        raise JudgeConfigError(f"judge base_url must start with http:// or https://, got {conf.base_url!r}")
    if conf.concurrency < 1 or conf.max_retries < 0 or conf.timeout_s <= 0:
        raise JudgeConfigError("judge needs concurrency >= 1, max_retries >= 0 and timeout_s > 0")
    return conf


# ------------------------------------------------------------------ prompt


def build_messages(item: Mapping) -> list[dict]:
    """Chat messages for one item: {"caption": str, "truth": {category: value|None}?, "reference": str?}."""
    truth = item.get("truth") or {}
    facts = [(c, truth[c]) for c in CATEGORIES if truth.get(c) is not None]
    facts += [(k, v) for k, v in truth.items() if k not in CATEGORIES and v is not None]
    user = render("caption_judge.jinja", facts=facts, reference=str(item.get("reference") or ""),
                  caption=str(item.get("caption") or ""))
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]


# ------------------------------------------------------------------ parsing

_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)
# Asked for with json_mode; the rubric asks for the same object in words.
SCHEMA = {"type": "object", "properties": {"coverage": {"type": "integer"}, "correctness": {"type": "integer"},
                                           "rationale": {"type": "string"}}, "required": ["coverage", "correctness"]}


def parse_judgement(content) -> dict:
    """{"coverage": float, "correctness": float} from the judge's message text; JudgeOutputError if malformed."""
    if not isinstance(content, str) or not content.strip():
        raise JudgeOutputError(f"malformed judge output: empty message content ({content!r})")
    text = _FENCE_RE.sub("", strip_think(content).strip()).strip()
    obj = None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                obj = json.loads(text[start:end + 1])
            except json.JSONDecodeError:
                obj = None
    if not isinstance(obj, dict):
        raise JudgeOutputError(f"malformed judge output: not a JSON object: {content[:200]!r}")
    out = {}
    for key in ("coverage", "correctness"):
        value = obj.get(key)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
            raise JudgeOutputError(f"malformed judge output: {key!r} must be a number 0-10, got {value!r}")
        out[key] = float(value)
    return out


# ------------------------------------------------------------------ calls


def judge_one(item: Mapping, chat: OpenAIChat) -> dict:
    """Grade one caption; returns {"coverage", "correctness", "raw"} or {"error": reason}. Never raises."""
    try:
        schema = SCHEMA if chat.cfg.json_mode != "none" else None
        raw = chat.chat(build_messages(item), schema=schema, schema_name="judgement").text
        return {**parse_judgement(raw), "raw": raw}
    except Exception as e:  # one bad item must not sink the batch (LLMUnavailable: the breaker is open, every item says so)
        return {"error": str(e) if isinstance(e, (LLMError, JudgeOutputError, JudgeConfigError)) else f"{type(e).__name__}: {e}"}


def judge_captions(items: Sequence[Mapping], config: Mapping | OpenAIConfig | None = None) -> list[dict]:
    """Grade each item ({"caption", "truth"?, "reference"?}) with at most `concurrency` requests in flight.

    Results are in input order. Raises JudgeConfigError only for a missing/invalid configuration.
    """
    conf = config if isinstance(config, OpenAIConfig) else judge_config(config)
    if not items:
        return []
    chat = OpenAIChat(conf)
    with ThreadPoolExecutor(max_workers=min(conf.concurrency, len(items)), thread_name_prefix="mf-judge") as pool:
        return list(pool.map(lambda it: judge_one(it, chat), items))


__all__ = [
    "RUBRIC", "JudgeConfigError", "JudgeOutputError", "judge_config", "judge_captions",
    "judge_one", "build_messages", "parse_judgement",
]
