"""Chat backends behind one interface (this room holds backends only).

A *chat backend* turns a list of chat messages (and an optional JSON schema)
into a `Reply`: `openai` (any OpenAI-compatible server, the one HTTP client of
the project) and `transformers` (a local causal LM); `audio_caption` is the
local audio captioner. Prompts are Jinja templates in `musicflamingo/prompts/`
(`llm.prompts.render`). The *writers* that use these backends to write
captions, QA and reasoning live with the data stages (`data/writers.py`).
"""

from musicflamingo.llm.base import ChatBackend, LLMError, LLMUnavailable, Reply

__all__ = ["ChatBackend", "LLMError", "LLMUnavailable", "Reply"]
