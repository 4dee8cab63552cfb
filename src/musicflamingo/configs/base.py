"""What every stage config shares: strict pydantic models, value-free.

The models give each key its type, bounds and help text and reject impossible
combinations; the values live only in `conf/` (and, resolved, in `params.yaml`).
A field therefore has no default, except `None` for a key that may be left out
(an optional path or URL): a key missing from `conf/` is an error, not a silent
fallback to a second copy of the value here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
"""A share in [0, 1]."""
Auto = Literal["auto"]
"""DeepSpeed / HF Trainer: filled in from the TrainingArguments."""


class Section(BaseModel):
    """A config node: unknown keys are typos and are refused, values are never changed after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

