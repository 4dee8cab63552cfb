"""MMAR (Ma et al., 2025): 1,000 deep-reasoning questions over speech, sound, music and their mixes.

Annotations: `MMAR-meta.json` from github.com/ddlBoJack/MMAR — records
{id, audio_path, question, choices, answer, modality, category, sub-category,
language, source, url, timestamp}; read as a JSON list or JSON Lines.
`modality` is one of sound, music, speech, mix-sound-music,
mix-sound-speech, mix-music-speech, mix-sound-music-speech. The music subset
is every modality containing "music" (case-insensitive): music,
mix-sound-music, mix-music-speech, mix-sound-music-speech. `audio_path` is
relative to the dataset root ("./audio/<id>.wav").

Config keys: `annotations` (required), `audio_root` (default: the meta
file's folder), `modality_contains` (default "music"), `audio_check`, `limit`.
`language` in the record is the language spoken in the clip; it is kept in
meta as `audio_language` (questions and answers are English).
"""

from __future__ import annotations

from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, as_str_list, audio_root, is_blank, read_records, resolve_audio,
)

META = ("modality", "category", "sub-category", "source", "url", "timestamp")


class MMAR:
    name = "mmar"

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, self.name)
        root = audio_root(cfg, path.parent)
        needle = str(cfg.get("modality_contains", "music")).lower()
        out = Collector(self.name, cfg)
        for rec in read_records(path):
            if out.full:
                break
            if needle not in str(rec.get("modality", "")).lower():
                out.skip("modality without music")
                continue
            if is_blank(rec.get("answer")):
                out.skip("no answer")
                continue
            if not as_str_list(rec.get("choices")):
                out.skip("no choices")
                continue
            meta = {k: rec.get(k) for k in META if k in rec}
            meta["audio_language"] = rec.get("language")
            out.add(BenchItem(
                benchmark=self.name,
                id=str(rec["id"]),
                audio_paths=[str(resolve_audio(root, p)) for p in as_str_list(rec.get("audio_path"))],
                question=str(rec["question"]),
                options=as_str_list(rec.get("choices")),
                answer=str(rec["answer"]),
                kind="mcq",
                meta=meta,
            ))
        return out.result()


__all__ = ["MMAR"]
