"""NSynth (Engel et al., 2017) as closed-set QA: instrument family (11 labels) or source (3 labels).

Layout of the published split folders (e.g. `nsynth-test/`):
`examples.json` — an object keyed by note_str, each value holding
`note_str, instrument_str, instrument_family_str, instrument_source_str,
pitch, velocity, qualities_str, ...`; audio at `audio/<note_str>.wav`.

The option list is the full published label set, not only the labels seen in
the split (the test split has no synth_lead notes), so chance is 1/11 for
family and 1/3 for source whatever split is loaded.

Config keys: `annotations` (required, examples.json), `audio_root`
(default: `<annotations folder>/audio`), `synonyms`, `audio_check`, `limit`.
The task is fixed per adapter instance: NSynth("family") / NSynth("source");
benchmark names are "nsynth_family" and "nsynth_source".
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, audio_root,
)
from musicflamingo.evaluation.benchmarks.gtzan import merge_synonyms

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
# Instrument names a model may answer with, mapped to the NSynth family that contains them.
FAMILY_SYNONYMS = {
    "bass": ["bass guitar", "electric bass", "synth bass"],
    "brass": ["trumpet", "trombone", "tuba", "french horn", "horn"],
    "flute": ["piccolo", "recorder", "pan flute"],
    "guitar": ["acoustic guitar", "electric guitar"],
    "keyboard": ["piano", "electric piano", "keys", "clavinet", "harpsichord"],
    "mallet": ["marimba", "xylophone", "vibraphone", "glockenspiel", "celesta", "mallets"],
    "organ": ["pipe organ", "hammond organ"],
    "reed": ["clarinet", "saxophone", "sax", "oboe", "bassoon", "harmonica", "accordion"],
    "string": ["violin", "viola", "cello", "double bass", "contrabass", "strings", "harp"],
    "synth_lead": ["synth lead", "lead synth", "synthesizer lead"],
    "vocal": ["voice", "vocals", "singing", "singer", "choir"],
}
SOURCE_SYNONYMS = {
    "acoustic": ["acoustically"],
    "electronic": ["electric", "electronically", "electrically"],
    "synthetic": ["synthesized", "synthesised", "synthesizer", "synthesiser", "synth"],
}
TASKS = {
    "family": ("instrument_family_str", FAMILIES, FAMILY_SYNONYMS,
               "Which instrument family is playing this note?"),
    "source": ("instrument_source_str", SOURCES, SOURCE_SYNONYMS,
               "How is the sound of this note produced: by an acoustic instrument, an electronic instrument, "
               "or synthetically?"),
}


class NSynth:
    def __init__(self, task: str = "family"):
        if task not in TASKS:
            raise ValueError(f"NSynth task must be one of {tuple(TASKS)}, got {task!r}")
        self.task = task
        self.name = f"nsynth_{task}"

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, self.name)
        root = audio_root(cfg, path.parent / "audio")
        field, labels, syn, question = TASKS[self.task]
        synonyms = merge_synonyms(syn, cfg.get("synonyms"))
        examples = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(examples, dict):
            raise ValueError(f"{self.name}: {path} should be an object keyed by note_str")
        out = Collector(self.name, cfg)
        for key in sorted(examples):
            if out.full:
                break
            ex = examples[key]
            label = str(ex.get(field, ""))
            if label not in labels:
                raise ValueError(f"{self.name}: {key} has {field}={label!r}, not one of {labels}")
            note = str(ex.get("note_str") or key)
            out.add(BenchItem(
                benchmark=self.name,
                id=note,
                audio_paths=[str(root / f"{note}.wav")],
                question=question,
                options=list(labels),
                answer=label,
                kind="classification",
                meta={
                    "label_synonyms": synonyms,
                    "instrument_str": ex.get("instrument_str"),
                    "pitch": ex.get("pitch"),
                    "velocity": ex.get("velocity"),
                    "qualities_str": ex.get("qualities_str"),
                },
            ))
        return out.result()


__all__ = ["NSynth", "FAMILIES", "SOURCES", "FAMILY_SYNONYMS", "SOURCE_SYNONYMS"]
