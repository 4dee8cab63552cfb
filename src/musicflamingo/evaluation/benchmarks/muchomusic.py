"""MuChoMusic (Weck et al., ISMIR 2024): 1,187 four-option questions over Song Describer and MusicCaps audio.

Annotations: `muchomusic.csv` from Zenodo (record 12709974) with columns
`question, dataset, dataset_identifier, genre, music_reasoning,
music_knowledge, correct_answer, distractor_1_answer, distractor_2_answer,
distractor_3_answer`. `music_reasoning` / `music_knowledge` are Python-list
literals ("['temporal relations']") or empty.

Config keys:
- `annotations` (required): path to muchomusic.csv.
- `audio_root`: folder the audio templates are relative to (default: the CSV's folder).
- `audio_templates`: {dataset: format string}; `audio_template`: one string for all datasets.
  Defaults follow the official repo (muchomusic_eval/utils.py) layout:
    sdd       -> "sdd/audio/{jamendo_dir}/{audio_id}.2min.mp3"
    musiccaps -> "musiccaps/audio/[{audio_id}]-[{start_s}-{end_s}].wav"
  Fields: {dataset} {dataset_identifier} {audio_id} {id_suffix} {jamendo_dir}
  (Song Describer / MTG-Jamendo sub-folder: last two digits of the track id),
  {sdd_path} (the `path` column of song_describer.csv with .mp3 -> .2min.mp3,
  needs `sdd_metadata`), {start_s} {end_s} (from musiccaps-public.csv, needs
  `musiccaps_metadata`).
- `sdd_metadata`, `musiccaps_metadata`: optional CSVs used only to fill the fields above.
- `distractors`: which distractor columns to show (default: all three).
- `seed` (default 0): option order is `random.Random(f"{seed}:{id}").sample(...)`,
  so each item's order is reproducible on its own, independent of row order or `limit`.
- `audio_check`, `limit`: see base.Collector.

`audio_id` follows the official derivation: for "sdd" the identifier without
".json" is the Jamendo track id; otherwise the identifier without ".json" and
without its last "_suffix" is the YouTube id.
"""

from __future__ import annotations

import ast
import random
import string
from typing import Any, Mapping

import pandas as pd

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, audio_root, require_columns, resolve_audio,
)

NAME = "muchomusic"
COLUMNS = (
    "question", "dataset", "dataset_identifier", "genre", "music_reasoning", "music_knowledge",
    "correct_answer", "distractor_1_answer", "distractor_2_answer", "distractor_3_answer",
)
DISTRACTORS = ("distractor_1_answer", "distractor_2_answer", "distractor_3_answer")
DEFAULT_TEMPLATES = {
    "sdd": "sdd/audio/{jamendo_dir}/{audio_id}.2min.mp3",
    "musiccaps": "musiccaps/audio/[{audio_id}]-[{start_s}-{end_s}].wav",
}


def parse_category_list(value: Any) -> list[str]:
    """"['a', 'b']" -> ["a", "b"]; empty/NaN -> []; a bare string -> [it]."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{NAME}: cannot parse category list {text!r}") from None
        return [str(x) for x in parsed]
    return [text]


def shuffle_order(n: int, seed: int, item_id: str) -> list[int]:
    """Permutation `order` with shown_options[i] = original[order[i]]; original[0] is the correct answer."""
    # String seeds are hashed with SHA-512 by `random` (version 2), so this is stable across runs and platforms.
    return random.Random(f"{seed}:{item_id}").sample(range(n), k=n)


def audio_fields(dataset: str, identifier: str, sdd_paths: dict, mc_times: dict) -> dict[str, str]:
    stem = identifier.removesuffix(".json")
    if dataset == "sdd":
        audio_id, suffix = stem, ""
    elif "_" in stem:
        audio_id, suffix = stem.rsplit("_", 1)
    else:
        audio_id, suffix = stem, ""
    fields = {"dataset": dataset, "dataset_identifier": identifier, "audio_id": audio_id, "id_suffix": suffix}
    if dataset == "sdd" and audio_id.isdigit():
        fields["jamendo_dir"] = f"{int(audio_id) % 100:02d}"
        if audio_id in sdd_paths:
            fields["sdd_path"] = sdd_paths[audio_id]
    if audio_id in mc_times:
        fields["start_s"], fields["end_s"] = mc_times[audio_id]
    return fields


def _sdd_paths(cfg: Mapping[str, Any]) -> dict[str, str]:
    if not cfg.get("sdd_metadata"):
        return {}
    path = annotation_path(cfg, NAME, "sdd_metadata")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    require_columns(df.columns, ("track_id", "path"), NAME, path)
    return {str(int(t)): p.replace(".mp3", ".2min.mp3") for t, p in zip(df["track_id"], df["path"])}


def _musiccaps_times(cfg: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    if not cfg.get("musiccaps_metadata"):
        return {}
    path = annotation_path(cfg, NAME, "musiccaps_metadata")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    require_columns(df.columns, ("ytid", "start_s", "end_s"), NAME, path)
    return {y: (str(int(float(s))), str(int(float(e)))) for y, s, e in zip(df["ytid"], df["start_s"], df["end_s"])}


def _template(cfg: Mapping[str, Any], dataset: str) -> str:
    per = dict(cfg.get("audio_templates") or {})
    tpl = per.get(dataset) or cfg.get("audio_template") or DEFAULT_TEMPLATES.get(dataset)
    if not tpl:
        raise ValueError(f"{NAME}: no audio template for dataset {dataset!r}; set cfg['audio_templates'][{dataset!r}]")
    return str(tpl)


class MuChoMusic:
    name = NAME

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, NAME)
        root = audio_root(cfg, path.parent)
        seed = int(cfg.get("seed", 0))
        distractors = list(cfg.get("distractors") or DISTRACTORS)
        if any(d not in DISTRACTORS for d in distractors):
            raise ValueError(f"{NAME}: distractors must be a subset of {DISTRACTORS}")
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        require_columns(df.columns, COLUMNS, NAME, path)
        sdd_paths, mc_times = _sdd_paths(cfg), _musiccaps_times(cfg)
        out = Collector(NAME, cfg)
        for row_index, row in enumerate(df.to_dict("records")):
            if out.full:
                break
            # The CSV has no id column in the Zenodo release; the row position is the stable id then.
            item_id = str(row.get("id") or row_index)
            dataset = row["dataset"].strip()
            fields = audio_fields(dataset, row["dataset_identifier"].strip(), sdd_paths, mc_times)
            tpl = _template(cfg, dataset)
            try:
                rel = string.Formatter().vformat(tpl, (), fields)
            except KeyError as e:
                hint = {"start_s": "musiccaps_metadata", "end_s": "musiccaps_metadata",
                        "sdd_path": "sdd_metadata"}.get(e.args[0], "audio_templates")
                raise ValueError(f"{NAME}: audio template {tpl!r} needs field {{{e.args[0]}}} for row {row_index} "
                                 f"({dataset}/{fields['dataset_identifier']}); set cfg['{hint}']") from None
            original = [row["correct_answer"]] + [row[d] for d in distractors]
            order = shuffle_order(len(original), seed, item_id)
            options = [original[j] for j in order]
            answer_index = order.index(0)
            out.add(BenchItem(
                benchmark=NAME,
                id=item_id,
                audio_paths=[str(resolve_audio(root, rel))],
                question=row["question"],
                options=options,
                answer=row["correct_answer"],
                kind="mcq",
                meta={
                    "dataset": dataset,
                    "dataset_identifier": fields["dataset_identifier"],
                    "genre": row["genre"].strip(),
                    "music_reasoning": parse_category_list(row["music_reasoning"]),
                    "music_knowledge": parse_category_list(row["music_knowledge"]),
                    "shuffle_seed": seed,
                    "option_order": order,
                    "answer_index": answer_index,
                    "answer_letter": "ABCDEFGHIJ"[answer_index],
                },
            ))
        return out.result()


__all__ = ["MuChoMusic", "shuffle_order", "parse_category_list", "audio_fields", "DEFAULT_TEMPLATES"]
