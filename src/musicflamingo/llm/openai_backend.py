"""Chat completions from any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs).

Base URL and model come from config or the environment (`MF_LLM_BASE_URL`,
`MF_LLM_MODEL`); the API key comes only from the environment variable that
`llm.api_key_env` names (default `MF_LLM_API_KEY`), so it never reaches
`params.yaml`, `dvc.lock` or MLflow. HTTP is `httpx2` (the maintained successor of httpx).

Failing loudly and fast:
- every request has a *total* deadline (`timeout_s`: connect, send, wait and
  receive together), so a server that trickles bytes cannot hold it longer,
  and a response-size bound (`max_response_bytes`);
- 429, 5xx, timeouts, connection errors and malformed/truncated JSON are
  retried with exponential backoff (honouring a bounded `Retry-After`);
- a circuit breaker: after `breaker_failures` consecutive transport failures
  (no HTTP 200 reply) every call raises `LLMUnavailable` naming the endpoint,
  which stops the stage instead of quarantining item after item;
- likewise after `unusable_replies` consecutive answers without usable JSON
  (a server that only talks prose);
- a stage budget (`stage_budget_s`): once spent, `LLMUnavailable` as well.

JSON-schema output is asked for with `response_format`; a server that rejects
it is asked again with `json_object`, then with the schema only in the prompt.
Replies are cached by the hash of the full request.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx  # the maintained successor of httpx (pydantic), already a dependency of huggingface_hub and fastapi

from musicflamingo.llm.base import LLMError, LLMUnavailable, Reply, ResponseCache, parse_json_reply, prompt_hash

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# Replies that say the endpoint itself is unusable (down, wrong URL, wrong key): they feed the circuit breaker.
BREAKER_STATUS = RETRY_STATUS | {401, 403, 404}
DEFAULT_KEY_ENV = "MF_LLM_API_KEY"


@dataclass
class OpenAIConfig:
    base_url: str | None = None           # e.g. http://127.0.0.1:8000/v1
    model: str | None = None
    api_key: str | None = None            # runtime only: read from the variable `api_key_env` names, never from config
    api_key_env: str = DEFAULT_KEY_ENV
    timeout_s: float = 60.0               # total per request (connect + wait + receive), not per socket read
    max_retries: int = 4
    backoff_s: float = 1.0                # first wait; doubles per retry, with jitter
    max_backoff_s: float = 30.0
    breaker_failures: int = 4             # consecutive transport failures that stop the stage
    unusable_replies: int = 8             # consecutive replies without usable JSON that stop the stage
    stage_budget_s: float = 3600.0        # wall time the stage may spend on this endpoint
    concurrency: int = 4
    max_tokens: int = 2048
    temperature: float = 0.2
    max_response_bytes: int = 2_000_000
    json_mode: str = "json_schema"        # json_schema | json_object | none
    cache_dir: str | None = None

    @classmethod
    def from_cfg(cls, cfg, section: str = "llm", env_prefix: str = "MF_LLM", environ=None) -> "OpenAIConfig":
        """From a config node (`section` names it in messages: `llm`, `eval.judge`); base URL and model fall back
        to `{env_prefix}_BASE_URL` / `{env_prefix}_MODEL`, the key is read only from the environment
        (`api_key_env`, default `{env_prefix}_API_KEY`, then `OPENAI_API_KEY`).
        Raises ValueError when the node holds a key value or lacks url/model."""
        env = os.environ if environ is None else environ
        key_env = cfg.get("api_key_env") or f"{env_prefix}_API_KEY"
        if cfg.get("api_key"):
            raise ValueError(f"{section}.api_key must not hold the key: export it in the environment variable named by "
                             f"{section}.api_key_env ({key_env}) "
                             "so it never reaches params.yaml, dvc.lock or MLflow")
        raw = {k: cfg.get(k) for k in cls.__dataclass_fields__ if k != "api_key" and cfg.get(k) is not None}
        out = cls(**{**raw, "api_key_env": key_env})
        out.base_url = out.base_url or env.get(f"{env_prefix}_BASE_URL")
        out.model = out.model or env.get(f"{env_prefix}_MODEL")
        out.api_key = env.get(out.api_key_env) or env.get("OPENAI_API_KEY")
        if not out.base_url or not out.model:
            raise ValueError(f"{section} needs base_url and model: set {section}.base_url / {section}.model "
                             f"or {env_prefix}_BASE_URL / {env_prefix}_MODEL")
        return out

    def __repr__(self) -> str:  # keep the key out of logs
        shown = {k: ("***" if k == "api_key" and v else v) for k, v in self.__dict__.items()}
        return f"OpenAIConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _transport_error(reason: str, status: int | None = None, retry_after: str | None = None) -> LLMError:
    err = LLMError(reason, retryable=status is None or status in RETRY_STATUS)
    err.transport, err.status, err.retry_after = status is None or status in BREAKER_STATUS, status, retry_after
    return err


class OpenAIChat:
    name = "openai"

    def __init__(self, config: OpenAIConfig, sleep=time.sleep):
        self.cfg = config
        self.cache = ResponseCache(Path(config.cache_dir) if config.cache_dir else None)
        self._slots = threading.BoundedSemaphore(max(1, int(config.concurrency)))
        self._json_mode = config.json_mode
        self._sleep = sleep
        self._client = httpx.Client(follow_redirects=False)
        self._lock = threading.Lock()
        self._streak = 0                      # consecutive transport failures, over all threads
        self._unusable = 0                    # consecutive answered-but-unusable replies (prose, malformed JSON)
        self._open: str | None = None         # the breaker's message once it has tripped
        self._budget_end = time.monotonic() + float(config.stage_budget_s)

    @property
    def endpoint(self) -> str:
        return self.cfg.base_url.rstrip("/") + "/chat/completions"

    # -------------------------------------------------------------- HTTP

    def _transfer(self, body: dict, deadline: float) -> dict:
        """One POST, read in chunks; every chunk checks the deadline and the size bound."""
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key:
            headers["Authorization"] = f"Bearer {self.cfg.api_key}"
        left = max(deadline - time.monotonic(), 0.001)
        timeout = httpx.Timeout(left, connect=min(left, 10.0))
        try:
            with self._client.stream("POST", self.endpoint, json=body, headers=headers, timeout=timeout) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.cfg.max_response_bytes:
                        raise LLMError(f"response larger than {self.cfg.max_response_bytes} bytes", retryable=False)
                    if time.monotonic() > deadline:
                        raise _transport_error(f"no complete reply within the {self.cfg.timeout_s:g} s deadline")
                    chunks.append(chunk)
                raw = b"".join(chunks)
                if resp.status_code != 200:
                    raise _transport_error(f"HTTP {resp.status_code}: {raw[:200].decode('utf-8', 'replace')}", resp.status_code,
                                           resp.headers.get("Retry-After"))
        except httpx.TimeoutException:
            raise _transport_error(f"no complete reply within the {self.cfg.timeout_s:g} s deadline") from None
        except httpx.HTTPError as exc:
            raise _transport_error(f"request failed: {type(exc).__name__}: {exc}"[:300]) from None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise _transport_error("server sent a body that is not JSON") from None

    def _post(self, body: dict) -> dict:
        """`_transfer` under a total deadline: the caller waits no longer than `timeout_s`, whatever the server does."""
        deadline = min(time.monotonic() + float(self.cfg.timeout_s), self._budget_end)
        box: dict = {}

        def work():
            try:
                box["ok"] = self._transfer(body, deadline)
            except BaseException as exc:  # handed to the caller's thread
                box["err"] = exc

        with self._slots:
            # The worker also stops at the deadline (its reads are bounded by it); the join makes the bound exact.
            worker = threading.Thread(target=work, daemon=True, name="llm-request")
            worker.start()
            worker.join(max(deadline - time.monotonic(), 0) + 0.05)
        if worker.is_alive() or not box:
            raise _transport_error(f"no complete reply within the {self.cfg.timeout_s:g} s deadline")
        if "err" in box:
            raise box["err"]
        return box["ok"]

    def _body(self, messages: list[dict], schema: dict | None, schema_name: str) -> dict:
        body = {"model": self.cfg.model, "messages": messages, "max_tokens": self.cfg.max_tokens, "temperature": self.cfg.temperature}
        if schema is not None and self._json_mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self._json_mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    # -------------------------------------------------------------- the breaker and the budget

    def _check_open(self) -> None:
        if self._open:
            raise LLMUnavailable(self._open)
        if time.monotonic() >= self._budget_end:
            self._open = f"LLM stage budget of {self.cfg.stage_budget_s:g} s spent on {self.endpoint}"
            raise LLMUnavailable(self._open)

    def _record(self, exc: LLMError | None) -> None:
        """Count consecutive transport failures; trip the breaker at `breaker_failures`."""
        with self._lock:
            if exc is None or not getattr(exc, "transport", False):
                self._streak = 0  # the server answered (even if the content was unusable)
                return
            self._streak += 1
            if self._streak >= int(self.cfg.breaker_failures) and not self._open:
                self._open = (f"LLM endpoint {self.endpoint} is down: {self._streak} consecutive transport failures "
                              f"(last: {exc.reason[:120]})")
        self._check_open()

    def _record_unusable(self, exc: LLMError) -> None:
        """A server that answers but never with usable output is as useless as a dead one: stop after `unusable_replies`."""
        with self._lock:
            self._unusable += 1
            if self._unusable >= int(self.cfg.unusable_replies) and not self._open:
                self._open = (f"LLM endpoint {self.endpoint} gives no usable output: {self._unusable} consecutive unusable replies "
                              f"(last: {exc.reason[:120]})")
        self._check_open()

    # -------------------------------------------------------------- the interface

    def chat(self, messages: list[dict], schema: dict | None = None, schema_name: str = "output") -> Reply:
        """One completion. Raises `LLMError` (this item failed) or `LLMUnavailable` (the endpoint is down: stop)."""
        key = prompt_hash({"model": self.cfg.model, "messages": messages, "schema": schema, "t": self.cfg.temperature, "max": self.cfg.max_tokens})
        hit = self.cache.get(key)
        if hit is not None:
            return Reply(hit["text"], hit.get("data"), attempts=0, cached=True, finish_reason=hit.get("finish_reason"))
        events: list[str] = []
        last: LLMError | None = None
        for attempt in range(1, self.cfg.max_retries + 2):
            self._check_open()
            try:
                try:
                    payload = self._post(self._body(messages, schema, schema_name))
                except LLMError as exc:
                    self._record(exc)
                    raise
                self._record(None)
                choice = (payload.get("choices") or [{}])[0]
                text = (choice.get("message") or {}).get("content")
                finish = choice.get("finish_reason")
                try:
                    if not isinstance(text, str):
                        raise LLMError("reply has no message content", retryable=True)
                    data = parse_json_reply(text, finish) if schema is not None else None
                except LLMError as exc:
                    self._record_unusable(exc)
                    raise
                with self._lock:
                    self._unusable = 0
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
                self._sleep(min(self._wait(attempt, getattr(exc, "retry_after", None)), max(self._budget_end - time.monotonic(), 0)))
        err = LLMError(f"{last.reason} (after {attempt} attempts)" if last else "no reply")
        err.transport = bool(last is not None and getattr(last, "transport", False))
        raise err

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.cfg.max_backoff_s)
            except ValueError:
                pass
        base = min(self.cfg.backoff_s * 2 ** (attempt - 1), self.cfg.max_backoff_s)
        return base * (0.5 + random.random() / 2)
