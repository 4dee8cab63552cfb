"""`llm`: the chat backend that writes MF-Skills and MF-Think (conf/llm/<backend>.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from musicflamingo.configs.base import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Section


class Surface(Section):
    """Per-30-s surface captions."""

    backend: Literal["builtin", "audio-model"] = Field(description="builtin: DSP descriptors and catalogue tags; audio-model: an audio LLM.")
    base_url: str | None = Field(None, description="audio-model, served: OpenAI-compatible audio chat endpoint.")
    model: str | None = Field(None, description="audio-model, served: model name.")
    api_key_env: str | None = Field(None, description="audio-model, served: environment variable holding the key.")
    model_path: str | None = Field(None, description="audio-model, local: a Music Flamingo folder (transformers, local files only).")


class _Writer(Section):
    surface: Surface
    cache_dir: str | None = Field(None, description="Reply cache (keyed by prompt hash); null: .cache/<stage>/llm.")
    target_words: PositiveInt = Field(description="Rich-caption length asked for, words (the paper's average is 450).")
    qa_items: PositiveInt = Field(description="QA pairs asked for per track.")


class Builtin(Section):
    backend: Literal["builtin"] = Field(description="The embedded, deterministic, fact-grounded writer; no model is called.")
    surface: Surface


class OpenAI(_Writer):
    backend: Literal["openai"] = Field(description="Any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, Ollama, hosted).")
    base_url: str | None = Field(description="e.g. http://127.0.0.1:8000/v1; null: $MF_LLM_BASE_URL.")
    model: str | None = Field(description="Served model name; null: $MF_LLM_MODEL.")
    api_key_env: str = Field(min_length=1, description="Environment variable holding the API key (the key itself is never in config).")
    api_key: None = Field(None, description="Refused: a key here would reach params.yaml, dvc.lock and MLflow.")
    timeout_s: PositiveFloat = Field(description="Total per request (connect + wait + receive), s.")
    max_retries: NonNegInt = Field(description="Retries on 429, 5xx, timeouts and malformed JSON (exponential backoff, jitter).")
    backoff_s: NonNegFloat = Field(description="First wait between retries, s.")
    max_backoff_s: NonNegFloat = Field(description="Longest wait between retries, s.")
    breaker_failures: PositiveInt = Field(description="Consecutive transport failures that stop the stage.")
    unusable_replies: PositiveInt = Field(description="Consecutive replies without usable JSON that stop the stage.")
    stage_budget_s: PositiveFloat = Field(description="Wall time a stage may spend on the endpoint, s.")
    concurrency: PositiveInt = Field(description="Requests in flight at once.")
    max_tokens: PositiveInt = Field(description="Reply length bound, tokens.")
    temperature: NonNegFloat = Field(description="Sampling temperature.")
    max_response_bytes: PositiveInt = Field(description="Reply size bound, bytes.")
    json_mode: Literal["json_schema", "json_object", "none"] = Field(description="Structured-output mode (falls back on HTTP 400).")

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_key(cls, value):
        if value:
            raise ValueError("llm.api_key must not hold the key: export it in the environment variable named by api_key_env")
        return value


class Transformers(_Writer):
    backend: Literal["transformers"] = Field(description="A local causal LM from a folder (local files only).")
    model_path: str | None = Field(description="Folder of the causal LM; required when the stage runs.")
    max_new_tokens: PositiveInt = Field(description="Reply length bound, tokens.")
    max_time_s: PositiveFloat = Field(description="Generation time bound per request, s.")
    temperature: NonNegFloat = Field(description="0: greedy; above: sampled.")
    device: str = Field(description="torch device (cpu, cuda, cuda:1).")
    max_retries: NonNegInt = Field(description="A malformed JSON reply is sampled again this many times.")


Llm = Annotated[Union[Builtin, OpenAI, Transformers], Field(discriminator="backend")]
"""One of the three writers, chosen by `backend`."""

__all__ = ["Llm", "Builtin", "OpenAI", "Transformers", "Surface"]
