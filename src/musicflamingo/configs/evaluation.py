"""`eval`: the held-out evaluation of every checkpoint (conf/eval/default.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from musicflamingo.configs.base import PositiveFloat, PositiveInt, Section

Checkpoint = Literal["backbone", "sft", "coldstart", "grpo"]


class Judge(Section):
    enabled: bool = Field(description="LLM judge of captions against an OpenAI-compatible server.")
    base_url: str | None = Field(description="Server; null: $MF_JUDGE_BASE_URL.")
    model: str | None = Field(description="Model; null: $MF_JUDGE_MODEL.")
    timeout_s: PositiveFloat = Field(description="Total per request, s.")
    concurrency: PositiveInt = Field(description="Requests in flight at once.")


class Eval(Section):
    """Held-out MCQ accuracy, captions and no-audio controls for each checkpoint."""

    checkpoints: list[Checkpoint] = Field(min_length=1, description="Checkpoints scored, in report order.")
    max_new_tokens: PositiveInt = Field(description="Greedy decoding budget, tokens (think chains need ~290).")
    batch_size: PositiveInt = Field(description="Prompts decoded together.")
    mcq_max_new_tokens_plain: PositiveInt | None = Field(description="Budget for MCQs asked the plain question; null: max_new_tokens.")
    think_for: list[Checkpoint] = Field(description="Checkpoints prompted with the think/answer instruction.")
    captions: bool = Field(description="Score held-out demo captions (structured coverage and correctness).")
    embedding_similarity: bool = Field(description="Also cosine similarity to the reference caption (all-MiniLM-L6-v2, offline).")
    judge: Judge
    benchmarks: dict[str, dict[str, Any]] = Field(description="Published benchmarks from local copies: name -> adapter config.")
    controls: list[Literal["silence", "other_track"]] = Field(description="No-audio controls run next to each checkpoint's accuracy.")

    @model_validator(mode="after")
    def _think_for(self):
        if not set(self.think_for) <= set(self.checkpoints):
            raise ValueError(f"eval.think_for {self.think_for} names checkpoints not in eval.checkpoints {self.checkpoints}")
        return self
