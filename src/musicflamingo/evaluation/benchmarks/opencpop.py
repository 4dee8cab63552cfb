"""Opencpop (Wang et al., 2022): Mandarin singing, scored here as lyric transcription (CER).

Published layout (wenet.org.cn/opencpop): `segments/wavs/<utt_id>.wav` and
`segments/{train,test,transcriptions}.txt`, one utterance per line:
`utt_id|text|phonemes|notes|note_durations|phoneme_durations|slur_flags`.
The second field is the lyric line in Chinese characters.

Config keys: `annotations` (required; normally `segments/test.txt`),
`audio_root` (default: `<annotations folder>/wavs`), `separator` ("|"),
`id_field` (0), `text_field` (1), `audio_template` ("{utt_id}.wav"),
`audio_check`, `limit`.
"""

from __future__ import annotations

from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, audio_root,
)

NAME = "opencpop"
QUESTION = "Transcribe the Chinese lyrics sung in this audio. Output only the lyrics."


class Opencpop:
    name = NAME

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, NAME)
        root = audio_root(cfg, path.parent / "wavs")
        sep = str(cfg.get("separator", "|"))
        id_field, text_field = int(cfg.get("id_field", 0)), int(cfg.get("text_field", 1))
        template = str(cfg.get("audio_template") or "{utt_id}.wav")
        out = Collector(NAME, cfg)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if out.full:
                break
            if not line.strip():
                continue
            parts = line.split(sep)
            if len(parts) <= max(id_field, text_field):
                raise ValueError(f"{NAME}: {path}:{lineno} has {len(parts)} '{sep}'-separated fields, "
                                 f"expected at least {max(id_field, text_field) + 1}")
            utt_id, text = parts[id_field].strip(), parts[text_field].strip()
            out.add(BenchItem(
                benchmark=NAME,
                id=utt_id,
                audio_paths=[str(root / template.format(utt_id=utt_id))],
                question=QUESTION,
                options=None,
                answer=text,
                kind="asr",
                meta={"source_line": lineno},
                language="zh",
            ))
        return out.result()


__all__ = ["Opencpop"]
