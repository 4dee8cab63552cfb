"""The chat-backend interface and its result type."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from musicflamingo.io import atomic_write_text


class LLMError(Exception):
    """A request that failed for good (after retries); `reason` becomes the quarantine reason."""

    def __init__(self, reason: str, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class LLMUnavailable(RuntimeError):
    """The endpoint is down or the stage's LLM budget is spent: the whole stage stops (never one quarantined item).

    Deliberately not an `LLMError`, so the per-item handlers that quarantine an item cannot swallow it.
    """


@dataclass
class Reply:
    text: str
    data: dict | None = None        # parsed JSON when a schema was asked for
    attempts: int = 1
    cached: bool = False
    finish_reason: str | None = None
    events: list[str] = field(default_factory=list)  # e.g. "retry: HTTP 429", "fallback: json_object"


class ChatBackend(Protocol):
    name: str

    def chat(self, messages: list[dict], schema: dict | None = None, schema_name: str = "output") -> Reply:
        """One completion. Raises `LLMError` with a reason when it cannot produce valid output."""


def prompt_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResponseCache:
    """One JSON file per prompt hash; a rerun with the same prompt and model never calls the server again."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder else None

    def get(self, key: str) -> dict | None:
        if self.folder is None:
            return None
        path = self.folder / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put(self, key: str, value: dict) -> None:
        if self.folder is not None:
            atomic_write_text(self.folder / key[:2] / f"{key}.json", json.dumps(value, ensure_ascii=False))


def parse_json_reply(text: str, finish_reason: str | None) -> dict:
    """The JSON object in a reply (bare or in a ```json fence); a clear `LLMError` otherwise."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[body.find("{"):] if "{" in body else body
    start, end = body.find("{"), body.rfind("}")
    if finish_reason == "length":
        raise LLMError("truncated reply (finish_reason=length)", retryable=False)
    if start < 0 or end <= start:
        raise LLMError("reply is not JSON" if start < 0 else "truncated JSON reply", retryable=True)
    try:
        data = json.loads(body[start: end + 1])
    except json.JSONDecodeError as exc:
        raise LLMError(f"malformed JSON reply: {exc.msg}", retryable=True) from None
    if not isinstance(data, dict):
        raise LLMError("JSON reply is not an object", retryable=True)
    return data
