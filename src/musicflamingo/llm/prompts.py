"""Prompt templates: Jinja files in `musicflamingo/prompts/`, never string literals in code."""

from __future__ import annotations

from functools import lru_cache

import jinja2

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("musicflamingo", "prompts"), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


@lru_cache(maxsize=None)
def _template(name: str) -> jinja2.Template:
    return _ENV.get_template(name)


def render(name: str, **values) -> str:
    return _template(name).render(**values).strip()
