"""LLM backends behind one interface.

A *chat backend* turns a list of chat messages (and an optional JSON schema)
into a `Reply`: `openai` (any OpenAI-compatible server) and `transformers`
(a local causal LM). A *writer* produces captions, QA and reasoning for a
track: `builtin` (the deterministic, fact-grounded writer, no model) or an
LLM writer that fills the prompt templates in `musicflamingo/prompts/` and
asks a chat backend. `make_writer(cfg.llm)` picks one from config.
"""

from musicflamingo.llm.base import ChatBackend, LLMError, LLMUnavailable, Reply
from musicflamingo.llm.writers import BuiltinWriter, LLMWriter, make_chat_backend, make_writer

__all__ = ["ChatBackend", "LLMError", "LLMUnavailable", "Reply", "BuiltinWriter", "LLMWriter", "make_chat_backend", "make_writer"]
