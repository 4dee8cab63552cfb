"""MUSDB18 lyrics: English lyric transcription (WER) over MUSDB18 mixtures or vocal stems.

MUSDB18 itself ships no lyrics; the lyric annotations used in the literature
(e.g. the MUSDB18 lyrics extension of Schulze-Forster et al.) come as one
text file per track or per line, and segmenting them is a choice of the user.
So this adapter reads a manifest the user builds from their copy: JSON Lines
(or a JSON list) or CSV, one row per audio segment, with an audio path
(relative to `audio_root`) and its reference lyrics.

Config keys: `annotations` (required; .jsonl/.json/.csv), `audio_root`
(default: the manifest's folder), `audio_field` ("audio"), `text_field`
("text"), `id_field` ("id"; default: the audio path), `audio_check`, `limit`.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, audio_root, read_records, require_columns, resolve_audio,
)

NAME = "musdb18_lyrics"
QUESTION = "Transcribe the English lyrics sung in this audio. Output only the lyrics."


class MUSDB18Lyrics:
    name = NAME

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, NAME)
        root = audio_root(cfg, path.parent)
        audio_field = str(cfg.get("audio_field", "audio"))
        text_field = str(cfg.get("text_field", "text"))
        id_field = str(cfg.get("id_field", "id"))
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            require_columns(df.columns, (audio_field, text_field), NAME, path)
            rows = df.to_dict("records")
        else:
            rows = read_records(path)
        out = Collector(NAME, cfg)
        for i, row in enumerate(rows):
            if out.full:
                break
            if audio_field not in row or text_field not in row:
                raise ValueError(f"{NAME}: row {i} of {path} lacks '{audio_field}' or '{text_field}'")
            rel = str(row[audio_field])
            out.add(BenchItem(
                benchmark=NAME,
                id=str(row.get(id_field) or rel),
                audio_paths=[str(resolve_audio(root, rel))],
                question=QUESTION,
                options=None,
                answer=str(row[text_field]),
                kind="asr",
                meta={k: v for k, v in row.items() if k not in (audio_field, text_field)},
                language="en",
            ))
        return out.result()


__all__ = ["MUSDB18Lyrics"]
