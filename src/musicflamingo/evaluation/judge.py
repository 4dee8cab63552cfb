"""Optional LLM judge for captions, against any OpenAI-compatible
`/chat/completions` server (vLLM, llama.cpp, Ollama, OpenAI, ...).

The SongCaps numbers in the paper are judge scores on two axes, coverage and
correctness, on a 0-10 scale; `RUBRIC` is the rubric we send, printed in the
report. Connection settings come from a config dict or the environment,
never from code:

    base_url  MF_JUDGE_BASE_URL  e.g. http://127.0.0.1:8000/v1 (".../chat/completions" is appended)
    model     MF_JUDGE_MODEL
    api_key   MF_JUDGE_API_KEY   optional; sent as "Authorization: Bearer ..."

Config-dict keys win over the environment. Further optional keys:
timeout_s (per socket operation), max_retries, backoff_s, max_backoff_s,
concurrency, temperature, max_tokens, json_mode (send
response_format={"type": "json_object"}; off by default because not every
server accepts it).

Retries with exponential backoff (backoff_s * 2**attempt, capped, small
jitter; a 429's Retry-After is honoured up to max_backoff_s) on HTTP 429,
any 5xx, connection errors and timeouts. Other 4xx fail at once. Each item
comes back as {"coverage", "correctness", "raw"} or {"error": reason};
`judge_captions` never raises for one bad item (a missing base URL or
model is a configuration error and does raise, before any request).

Standard library only (urllib + a thread pool).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Mapping, Sequence

from musicflamingo.data.structured import CATEGORIES
from musicflamingo.think_answer import strip_think

RUBRIC = """\
You are an expert musicologist grading a music caption written for one audio track.
You cannot hear the track. Grade the caption only against the REFERENCE information
given (verified facts about the track, and a reference caption when present).

Score two axes, each an integer from 0 to 10:

coverage (0-10): how much of the reference information the caption addresses,
  whether or not it gets it right. Weigh the musically central facts most: genre or
  tradition, tempo (BPM), key and mode, meter, instrumentation, harmony (chords),
  form/structure, vocals and lyrics, dynamics and mix, when the reference has them.
  10 = every reference fact is addressed; 5 = about half of them, or only vaguely;
  0 = none of them (generic text that could describe any track).

correctness (0-10): of what the caption asserts, how much agrees with the reference.
  A stated value that contradicts the reference (wrong key or mode, a tempo off by more
  than about 4% including double or half tempo, wrong meter, instruments that are not
  there, wrong chords) is an error; claims the reference cannot confirm or refute are
  neither rewarded nor penalised unless they are implausible.
  10 = no contradictions; 5 = about half of the checkable claims are wrong;
  0 = essentially everything checkable is wrong. A caption that asserts nothing
  checkable gets 5.

Respond with only a JSON object, no other text:
{"coverage": <integer 0-10>, "correctness": <integer 0-10>, "rationale": "<one or two sentences>"}
"""

ENV = {"base_url": "MF_JUDGE_BASE_URL", "model": "MF_JUDGE_MODEL", "api_key": "MF_JUDGE_API_KEY"}


class JudgeConfigError(ValueError):
    """The judge is not configured (no base URL or model) or a setting is invalid."""


class JudgeOutputError(ValueError):
    """The judge answered, but not with the JSON object the rubric asks for."""


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    concurrency: int = 4
    temperature: float = 0.0
    max_tokens: int = 512
    json_mode: bool = False

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"

    def __repr__(self) -> str:  # keep the key out of logs
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["api_key"] = "***" if self.api_key else None
        return f"JudgeConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def judge_config(cfg: Mapping | None = None, env: Mapping[str, str] | None = None) -> JudgeConfig:
    """JudgeConfig from a config mapping, falling back to MF_JUDGE_* environment variables."""
    cfg = dict(cfg or {})
    env = os.environ if env is None else env
    for key, var in ENV.items():
        if not cfg.get(key) and env.get(var):
            cfg[key] = env[var]
    missing = [f"{k} ({ENV[k]})" for k in ("base_url", "model") if not cfg.get(k)]
    if missing:
        raise JudgeConfigError(f"LLM judge not configured: set {' and '.join(missing)} in the config or environment")
    if not str(cfg["base_url"]).startswith(("http://", "https://")):
        raise JudgeConfigError(f"judge base_url must start with http:// or https://, got {cfg['base_url']!r}")
    unknown = sorted(set(cfg) - set(_CONVERT))
    if unknown:
        raise JudgeConfigError(f"unknown judge settings {unknown}; known: {sorted(_CONVERT)}")
    try:
        conf = JudgeConfig(**{k: _CONVERT[k](v) for k, v in cfg.items() if not (k == "api_key" and not v)})
    except (TypeError, ValueError) as e:
        raise JudgeConfigError(f"invalid judge setting: {e}") from e
    if conf.concurrency < 1 or conf.max_retries < 0 or conf.timeout_s <= 0:
        raise JudgeConfigError("judge needs concurrency >= 1, max_retries >= 0 and timeout_s > 0")
    return conf


def _as_bool(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


_CONVERT = {
    "base_url": str, "model": str, "api_key": str, "timeout_s": float, "max_retries": int, "backoff_s": float,
    "max_backoff_s": float, "concurrency": int, "temperature": float, "max_tokens": int, "json_mode": _as_bool,
}


# ------------------------------------------------------------------ prompt


def build_messages(item: Mapping) -> list[dict]:
    """Chat messages for one item: {"caption": str, "truth": {category: value|None}?, "reference": str?}."""
    lines = []
    truth = item.get("truth") or {}
    facts = [f"- {c}: {truth[c]}" for c in CATEGORIES if truth.get(c) is not None]
    facts += [f"- {k}: {v}" for k, v in truth.items() if k not in CATEGORIES and v is not None]
    if facts:
        lines += ["REFERENCE facts (verified):", *facts, ""]
    if item.get("reference"):
        lines += ["REFERENCE caption:", str(item["reference"]), ""]
    if not facts and not item.get("reference"):
        lines += ["REFERENCE: none available.", ""]
    lines += ["CAPTION to grade:", str(item.get("caption") or "")]
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": "\n".join(lines)}]


# ------------------------------------------------------------------ parsing

_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


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


# ------------------------------------------------------------------ HTTP


def _post(conf: JudgeConfig, payload: dict) -> dict:
    """One POST; returns the decoded JSON body. Raises _Retryable for 429/5xx/connection/timeout."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if conf.api_key:
        headers["Authorization"] = f"Bearer {conf.api_key}"
    req = urllib.request.Request(conf.url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=conf.timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        snippet = e.read(300).decode("utf-8", "replace") if e.fp else ""
        reason = f"HTTP {e.code} from judge: {snippet.strip()[:200]}"
        if e.code == 429 or 500 <= e.code < 600:
            retry_after = e.headers.get("Retry-After") if e.headers else None
            err = _Retryable(reason)
            err.retry_after = _seconds(retry_after)  # type: ignore[attr-defined]
            raise err from None
        raise JudgeOutputError(reason) from None
    except (socket.timeout, TimeoutError) as e:
        raise _Retryable(f"judge timed out after {conf.timeout_s}s") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.timeout, TimeoutError)):
            raise _Retryable(f"judge timed out after {conf.timeout_s}s") from e
        raise _Retryable(f"cannot reach judge: {e.reason}") from e
    except (ConnectionError, OSError, http.client.HTTPException) as e:  # reset, closed, incomplete read, ...
        raise _Retryable(f"connection to judge failed: {type(e).__name__}: {e}") from e
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JudgeOutputError(f"malformed judge response: body is not JSON: {body[:200]!r}") from None


def _seconds(value) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def _content(body) -> str:
    try:
        return body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise JudgeOutputError(
            f"malformed judge response: no choices[0].message.content in {str(body)[:200]!r}") from None


def judge_one(item: Mapping, conf: JudgeConfig) -> dict:
    """Grade one caption; returns {"coverage", "correctness", "raw"} or {"error": reason}. Never raises."""
    try:
        payload = {"model": conf.model, "messages": build_messages(item), "temperature": conf.temperature,
                   "max_tokens": conf.max_tokens}
        if conf.json_mode:
            payload["response_format"] = {"type": "json_object"}
        attempt = 0
        while True:
            try:
                body = _post(conf, payload)
                break
            except _Retryable as e:
                if attempt >= conf.max_retries:
                    return {"error": f"{e} (gave up after {attempt + 1} attempts)"}
                wait = min(conf.max_backoff_s, conf.backoff_s * 2 ** attempt) * (1 + 0.1 * random.random())
                retry_after = getattr(e, "retry_after", None)
                if retry_after is not None:
                    wait = min(conf.max_backoff_s, max(wait, retry_after))
                time.sleep(wait)
                attempt += 1
        raw = _content(body)
        scores = parse_judgement(raw)
        return {**scores, "raw": raw}
    except Exception as e:  # one bad item must not sink the batch
        return {"error": str(e) if isinstance(e, (JudgeOutputError, JudgeConfigError)) else f"{type(e).__name__}: {e}"}


def judge_captions(items: Sequence[Mapping], config: Mapping | JudgeConfig | None = None) -> list[dict]:
    """Grade each item ({"caption", "truth"?, "reference"?}) with at most `concurrency` requests in flight.

    Results are in input order. Raises JudgeConfigError only for a missing/invalid configuration.
    """
    conf = config if isinstance(config, JudgeConfig) else judge_config(config)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(conf.concurrency, len(items)), thread_name_prefix="mf-judge") as pool:
        return list(pool.map(lambda it: judge_one(it, conf), items))


__all__ = [
    "RUBRIC", "JudgeConfig", "JudgeConfigError", "JudgeOutputError", "judge_config", "judge_captions",
    "judge_one", "build_messages", "parse_judgement",
]
