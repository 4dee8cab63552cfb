"""MMAU (Sakshi et al., 2024) and MMAU-Pro (Kumar et al., 2025), music subsets.

MMAU — `mmau-test-mini.json` / `mmau-test.json` from github.com/Sakshi113/MMAU:
a JSON list of {id, audio_id, question, choices, answer, dataset, task,
split, category, sub-category, difficulty}. In the published files the
domain (sound / music / speech) is the `task` field, while `category` is the
skill family ("Information Extraction", "Reasoning"); so the music subset is
`task == "music"` (configurable with `domain_field` / `domain`). `audio_id`
is relative to the dataset root ("./test-mini-audios/<id>.wav"). The 9k
`test` split ships without answers; such rows are skipped and counted.

Config keys (MMAU): `annotations` (required), `audio_root` (default: the
JSON's folder), `domain_field` (default "task"), `domain` (default "music").

MMAU-Pro — `test.parquet` from huggingface.co/datasets/gamma-lab-umd/MMAU-Pro:
columns id, audio_path (list of paths, several for multi-audio questions),
question, answer, choices (list), category, sub-cat, length_type,
perceptual_skills, reasoning_skills, task_identifier, ... Paths are relative
to the extracted data.zip root ("data/<uuid>.wav"). Music subset:
`category` in `categories` (default ["music"]). Rows with no choices
(open-ended, LLM-judged upstream) or no answer (instruction following) are
skipped and counted: this adapter covers the closed-form part only.

Config keys (MMAU-Pro): `annotations` (required), `audio_root` (default: the
parquet's folder), `categories`.
Both: `audio_check`, `limit` (see base.Collector).
"""

from __future__ import annotations

from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, as_str_list, audio_root, clean, is_blank, read_records,
    resolve_audio,
)

MMAU_META = ("dataset", "task", "split", "category", "sub-category", "difficulty")
MMAU_PRO_META = ("category", "sub-cat", "length_type", "task_identifier", "task_classification")


class MMAU:
    name = "mmau"

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        path = annotation_path(cfg, self.name)
        root = audio_root(cfg, path.parent)
        domain_field = str(cfg.get("domain_field", "task"))
        domain = str(cfg.get("domain", "music")).lower()
        out = Collector(self.name, cfg)
        for rec in read_records(path):
            if out.full:
                break
            if str(rec.get(domain_field, "")).strip().lower() != domain:
                out.skip(f"{domain_field} != {domain}")
                continue
            if is_blank(rec.get("answer")):
                out.skip("no answer (withheld)")
                continue
            if not as_str_list(rec.get("choices")):
                out.skip("no choices")
                continue
            out.add(BenchItem(
                benchmark=self.name,
                id=str(rec["id"]),
                audio_paths=[str(resolve_audio(root, rec["audio_id"]))],
                question=str(rec["question"]),
                options=as_str_list(rec.get("choices")),
                answer=str(rec["answer"]),
                kind="mcq",
                meta={k: rec.get(k) for k in MMAU_META if k in rec},
            ))
        return out.result()


class MMAUPro:
    name = "mmau_pro"

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        import pandas as pd

        path = annotation_path(cfg, self.name)
        root = audio_root(cfg, path.parent)
        categories = {str(c).lower() for c in (cfg.get("categories") or ["music"])}
        out = Collector(self.name, cfg)
        for rec in pd.read_parquet(path).to_dict("records"):
            if out.full:
                break
            if is_blank(rec.get("category")) or str(rec["category"]).strip().lower() not in categories:
                out.skip("category not selected")
                continue
            choices = as_str_list(rec.get("choices"))
            answer = rec.get("answer")
            if not choices:
                out.skip("open-ended (no choices)")
                continue
            if is_blank(answer):
                out.skip("no answer")
                continue
            meta = {k: clean(rec.get(k)) for k in MMAU_PRO_META if k in rec}
            for k in ("perceptual_skills", "reasoning_skills"):
                if k in rec:
                    meta[k] = as_str_list(rec.get(k))
            out.add(BenchItem(
                benchmark=self.name,
                id=str(rec["id"]),
                audio_paths=[str(resolve_audio(root, p)) for p in as_str_list(rec.get("audio_path"))],
                question=str(rec["question"]),
                options=choices,
                answer=str(answer),
                kind="mcq",
                meta=meta,
            ))
        return out.result()


__all__ = ["MMAU", "MMAUPro"]
