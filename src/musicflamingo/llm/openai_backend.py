"""Chat completions from any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs).

Base URL, model and API key come from config or the environment
(`MF_LLM_BASE_URL`, `MF_LLM_MODEL`, `MF_LLM_API_KEY`), never from code. Every
request has a timeout and a response-size bound; 429, 5xx, timeouts,
connection errors and malformed/truncated JSON are retried with exponential
backoff (honouring a bounded `Retry-After`). JSON-schema output is asked for
with `response_format`; a server that rejects it is asked again with
`json_object`, then with the schema only in the prompt. Replies are cached
by the hash of the full request. Uses only the standard library (urllib), so
the concurrency limit is a semaphore shared by the worker threads.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from musicflamingo.llm.base import LLMError, Reply, ResponseCache, parse_json_reply, prompt_hash

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass
class OpenAIConfig:
    base_url: str | None = None           # e.g. http://127.0.0.1:8000/v1
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0                # first wait; doubles per retry, with jitter
    max_backoff_s: float = 30.0
    concurrency: int = 4
    max_tokens: int = 2048
    temperature: float = 0.2
    max_response_bytes: int = 2_000_000
    json_mode: str = "json_schema"        # json_schema | json_object | none
    cache_dir: str | None = None

    @classmethod
    def from_cfg(cls, cfg) -> "OpenAIConfig":
        raw = {k: cfg.get(k) for k in cls.__dataclass_fields__ if cfg.get(k) is not None}
        out = cls(**raw)
        out.base_url = out.base_url or os.environ.get("MF_LLM_BASE_URL")
        out.model = out.model or os.environ.get("MF_LLM_MODEL")
        out.api_key = out.api_key or os.environ.get("MF_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if not out.base_url or not out.model:
            raise ValueError("llm.backend=openai needs llm.base_url and llm.model (or MF_LLM_BASE_URL / MF_LLM_MODEL)")
        return out


class OpenAIChat:
    name = "openai"

    def __init__(self, config: OpenAIConfig, sleep=time.sleep):
        self.cfg = config
        self.cache = ResponseCache(Path(config.cache_dir) if config.cache_dir else None)
        self._slots = threading.BoundedSemaphore(max(1, int(config.concurrency)))
        self._json_mode = config.json_mode
        self._sleep = sleep

    # -------------------------------------------------------------- HTTP

    def _post(self, body: dict) -> dict:
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key:
            headers["Authorization"] = f"Bearer {self.cfg.api_key}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with self._slots, urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                raw = resp.read(self.cfg.max_response_bytes + 1)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace")
            err = LLMError(f"HTTP {exc.code}: {detail[:200]}", retryable=exc.code in RETRY_STATUS)
            err.status = exc.code
            err.retry_after = exc.headers.get("Retry-After") if exc.headers else None
            raise err from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            raise LLMError(f"request failed: {getattr(exc, 'reason', exc)}", retryable=True) from None
        if len(raw) > self.cfg.max_response_bytes:
            raise LLMError(f"response larger than {self.cfg.max_response_bytes} bytes", retryable=False)
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise LLMError("server sent a body that is not JSON", retryable=True) from None

    def _body(self, messages: list[dict], schema: dict | None, schema_name: str) -> dict:
        body = {"model": self.cfg.model, "messages": messages, "max_tokens": self.cfg.max_tokens, "temperature": self.cfg.temperature}
        if schema is not None and self._json_mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self._json_mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    # -------------------------------------------------------------- the interface

    def chat(self, messages: list[dict], schema: dict | None = None, schema_name: str = "output") -> Reply:
        key = prompt_hash({"model": self.cfg.model, "messages": messages, "schema": schema, "t": self.cfg.temperature, "max": self.cfg.max_tokens})
        hit = self.cache.get(key)
        if hit is not None:
            return Reply(hit["text"], hit.get("data"), attempts=0, cached=True, finish_reason=hit.get("finish_reason"))
        events: list[str] = []
        last: LLMError | None = None
        for attempt in range(1, self.cfg.max_retries + 2):
            try:
                payload = self._post(self._body(messages, schema, schema_name))
                choice = (payload.get("choices") or [{}])[0]
                text = (choice.get("message") or {}).get("content")
                finish = choice.get("finish_reason")
                if not isinstance(text, str):
                    raise LLMError("reply has no message content", retryable=True)
                data = parse_json_reply(text, finish) if schema is not None else None
                self.cache.put(key, {"text": text, "data": data, "finish_reason": finish})
                return Reply(text, data, attempts=attempt, finish_reason=finish, events=events)
            except LLMError as exc:
                last = exc
                status = getattr(exc, "status", None)
                if status == 400 and schema is not None and self._json_mode != "none":
                    # The server does not support this structured-output mode: step down once per mode.
                    self._json_mode = "json_object" if self._json_mode == "json_schema" else "none"
                    events.append(f"fallback: {self._json_mode}")
                    continue
                if not exc.retryable or attempt > self.cfg.max_retries:
                    break
                events.append(f"retry: {exc.reason[:60]}")
                self._sleep(self._wait(attempt, getattr(exc, "retry_after", None)))
        raise LLMError(f"{last.reason} (after {attempt} attempts)" if last else "no reply")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.cfg.max_backoff_s)
            except ValueError:
                pass
        base = min(self.cfg.backoff_s * 2 ** (attempt - 1), self.cfg.max_backoff_s)
        return base * (0.5 + random.random() / 2)
