"""Medley-solos-DB (Lostanlen & Cella, 2016) as closed-set QA: 8 instruments, chance 0.125.

Layout of the Zenodo release (record 3464194): `Medley-solos-DB_metadata.csv`
with columns `subset, instrument, instrument_id, song_id, uuid4`, and audio
files named `Medley-solos-DB_<subset>-<instrument_id>_<uuid4>.wav`
(subset is training / validation / test).

Config keys: `annotations` (required, the metadata CSV), `audio_root`
(default: the CSV's folder), `subset` (default "test"; null for all rows),
`audio_template` (default the published file name above; fields are the CSV
columns), `synonyms`, `audio_check`, `limit`.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, audio_root, require_columns,
)
from musicflamingo.evaluation.benchmarks.gtzan import merge_synonyms

NAME = "medley_solos_db"
# instrument_id order of the published metadata.
INSTRUMENTS = ("clarinet", "distorted electric guitar", "female singer", "flute", "piano",
               "tenor saxophone", "trumpet", "violin")
SYNONYMS = {
    "distorted electric guitar": ["electric guitar", "distorted guitar", "guitar"],
    "female singer": ["female vocalist", "female vocals", "female voice", "singer", "vocalist", "vocals", "voice",
                      "singing"],
    "piano": ["grand piano"],
    "tenor saxophone": ["saxophone", "tenor sax", "sax"],
    "violin": ["fiddle"],
}
TEMPLATE = "Medley-solos-DB_{subset}-{instrument_id}_{uuid4}.wav"
QUESTION = "Which instrument is playing solo in this recording?"


class MedleySolosDB:
    name = NAME

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, NAME)
        root = audio_root(cfg, path.parent)
        subset = cfg.get("subset", "test")
        template = str(cfg.get("audio_template") or TEMPLATE)
        synonyms = merge_synonyms(SYNONYMS, cfg.get("synonyms"))
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        require_columns(df.columns, ("subset", "instrument", "instrument_id", "uuid4"), NAME, path)
        out = Collector(NAME, cfg)
        for row in df.to_dict("records"):
            if out.full:
                break
            if subset and row["subset"] != subset:
                out.skip(f"subset != {subset}")
                continue
            label = row["instrument"].strip().lower()
            if label not in INSTRUMENTS:
                raise ValueError(f"{NAME}: unknown instrument {row['instrument']!r} in {path}")
            out.add(BenchItem(
                benchmark=NAME,
                id=row["uuid4"],
                audio_paths=[str(root / template.format_map(row))],
                question=QUESTION,
                options=list(INSTRUMENTS),
                answer=label,
                kind="classification",
                meta={"label_synonyms": synonyms, "subset": row["subset"], "song_id": row.get("song_id")},
            ))
        return out.result()


__all__ = ["MedleySolosDB", "INSTRUMENTS", "SYNONYMS"]
