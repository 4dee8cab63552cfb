"""Chat completions from a local causal LM (`AutoModelForCausalLM`) loaded from a path.

Offline by design: `local_files_only=True`, so nothing is downloaded. The
generation is bounded by `max_new_tokens` and by `max_time` seconds (the
transformers stopping criterion), which is the timeout of this backend.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from musicflamingo.llm.base import LLMError, Reply, ResponseCache, parse_json_reply, prompt_hash


@dataclass
class TransformersConfig:
    model_path: str
    max_new_tokens: int = 1024
    max_time_s: float = 300.0
    temperature: float = 0.0
    device: str = "cpu"
    max_retries: int = 1       # a malformed JSON reply is sampled again this many times
    cache_dir: str | None = None

    @classmethod
    def from_cfg(cls, cfg) -> "TransformersConfig":
        if not cfg.get("model_path"):
            raise ValueError("llm.backend=transformers needs llm.model_path (a local folder with a causal LM)")
        return cls(**{k: cfg.get(k) for k in cls.__dataclass_fields__ if cfg.get(k) is not None})


class TransformersChat:
    name = "transformers"

    def __init__(self, config: TransformersConfig):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(config.model_path)
        if not path.is_dir():
            raise FileNotFoundError(f"llm.model_path {path} is not a folder")
        self.cfg = config
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(config.device).eval()
        self.cache = ResponseCache(Path(config.cache_dir) if config.cache_dir else None)
        self._lock = threading.Lock()  # one generate at a time on this model

    def _prompt(self, messages: list[dict], schema: dict | None) -> str:
        if schema is not None:
            import json

            messages = messages + [{"role": "system", "content": "Reply with one JSON object matching this schema: " + json.dumps(schema)}]
        if getattr(self.tok, "chat_template", None):
            return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

    def chat(self, messages: list[dict], schema: dict | None = None, schema_name: str = "output") -> Reply:
        import torch

        key = prompt_hash({"model": str(self.cfg.model_path), "messages": messages, "schema": schema, "t": self.cfg.temperature})
        hit = self.cache.get(key)
        if hit is not None:
            return Reply(hit["text"], hit.get("data"), attempts=0, cached=True)
        enc = self.tok(self._prompt(messages, schema), return_tensors="pt").to(self.cfg.device)
        context = getattr(self.model.config, "max_position_embeddings", None) or getattr(self.model.config, "n_positions", None)
        if context and enc["input_ids"].shape[1] + self.cfg.max_new_tokens > context:
            raise LLMError(f"prompt of {enc['input_ids'].shape[1]} tokens + {self.cfg.max_new_tokens} new exceeds the model's context of {context}")
        last: LLMError | None = None
        for attempt in range(1, self.cfg.max_retries + 2):
            kwargs = {"max_new_tokens": self.cfg.max_new_tokens, "max_time": self.cfg.max_time_s,
                      "pad_token_id": self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id}
            if self.cfg.temperature > 0:
                kwargs.update(do_sample=True, temperature=self.cfg.temperature)
            else:
                kwargs.update(do_sample=False)
            with self._lock, torch.no_grad():
                out = self.model.generate(**enc, **kwargs)
            new = out[0, enc["input_ids"].shape[1]:]
            text = self.tok.decode(new, skip_special_tokens=True)
            finish = "length" if len(new) >= self.cfg.max_new_tokens else "stop"
            try:
                data = parse_json_reply(text, finish) if schema is not None else None
            except LLMError as exc:
                last = exc
                if exc.retryable and attempt <= self.cfg.max_retries:
                    continue
                break
            self.cache.put(key, {"text": text, "data": data})
            return Reply(text, data, attempts=attempt, finish_reason=finish)
        raise LLMError(f"{last.reason} (after {attempt} attempts)")
