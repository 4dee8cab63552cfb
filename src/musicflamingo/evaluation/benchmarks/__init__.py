"""Adapters that read local copies of published music benchmarks into `BenchItem`s.

Contract: `ADAPTERS[name].load(cfg)` (or `load_benchmark(name, cfg)`) returns a
`LoadResult`; see `base` for the item type and the error rules, and each
module's docstring for the published layout it expects and its config keys.
Nothing here downloads data or runs a model; scoring lives in
`musicflamingo.evaluation.scoring`.
"""

from __future__ import annotations

from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import Adapter, BenchItem, LoadResult, render_prompt
from musicflamingo.evaluation.benchmarks.gtzan import GTZAN
from musicflamingo.evaluation.benchmarks.medley_solos import MedleySolosDB
from musicflamingo.evaluation.benchmarks.mmar import MMAR
from musicflamingo.evaluation.benchmarks.mmau import MMAU, MMAUPro
from musicflamingo.evaluation.benchmarks.muchomusic import MuChoMusic
from musicflamingo.evaluation.benchmarks.musdb18_lyrics import MUSDB18Lyrics
from musicflamingo.evaluation.benchmarks.nsynth import NSynth
from musicflamingo.evaluation.benchmarks.opencpop import Opencpop

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        MuChoMusic(), MMAU(), MMAUPro(), MMAR(), GTZAN(), NSynth("family"), NSynth("source"),
        MedleySolosDB(), Opencpop(), MUSDB18Lyrics(),
    )
}


def load_benchmark(name: str, cfg: Mapping[str, Any]) -> LoadResult:
    if name not in ADAPTERS:
        raise KeyError(f"unknown benchmark {name!r}; known: {sorted(ADAPTERS)}")
    return ADAPTERS[name].load(cfg)


__all__ = ["ADAPTERS", "Adapter", "BenchItem", "LoadResult", "load_benchmark", "render_prompt"]
