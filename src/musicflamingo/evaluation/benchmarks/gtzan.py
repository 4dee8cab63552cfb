"""GTZAN genre classification (Tzanetakis & Cook, 2002) as closed-set QA: 10 genres, chance 0.1.

Layout: `<audio_root>/<genre>/<genre>.000NN.wav` — the Kaggle "genres_original"
copy (.wav) and the original marsyas tarball "genres" (.au) both work
(`extensions`, default [".wav", ".au"]). The label is the folder name.

Config keys:
- `audio_root` (required): the folder holding the ten genre folders. GTZAN has no
  annotation file, so a missing `audio_root` raises FileNotFoundError naming it.
- `annotations` (optional): a split list, one relative path per line
  ("blues/blues.00012.wav" or "blues/blues.00012"), e.g. the fault-filtered
  split of Kereliuk et al. (2015); listed files that are absent are counted
  in missing_audio. Without it every file under the genre folders is used.
- `synonyms`: extra {label: [surface forms]} merged into `SYNONYMS`.
- `audio_check`, `limit`: see base.Collector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from musicflamingo.evaluation.benchmarks.base import (
    BenchItem, Collector, LoadResult, annotation_path, required,
)

NAME = "gtzan"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
# Open answers use everyday spellings; these map them back to the folder labels.
SYNONYMS = {
    "hiphop": ["hip hop", "hip-hop", "rap"],
    "metal": ["heavy metal"],
}
QUESTION = "What is the music genre of this audio clip?"


def merge_synonyms(base: Mapping[str, list[str]], extra: Mapping[str, Any] | None) -> dict[str, list[str]]:
    merged = {k: list(v) for k, v in base.items()}
    for k, v in (extra or {}).items():
        merged.setdefault(str(k), []).extend(str(x) for x in (v or []))
    return merged


class GTZAN:
    name = NAME

    def load(self, cfg: Mapping[str, Any]) -> LoadResult:
        root = Path(str(required(cfg, "audio_root", NAME))).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"{NAME}: genre folder from config key 'audio_root' not found: {root}")
        exts = [e if e.startswith(".") else f".{e}" for e in (cfg.get("extensions") or [".wav", ".au"])]
        synonyms = merge_synonyms(SYNONYMS, cfg.get("synonyms"))
        out = Collector(NAME, cfg)
        for genre, path in self._listing(cfg, root, exts, out):
            if out.full:
                break
            out.add(BenchItem(
                benchmark=NAME,
                id=f"{genre}/{path.stem}",
                audio_paths=[str(path)],
                question=QUESTION,
                options=list(GENRES),
                answer=genre,
                kind="classification",
                meta={"label_synonyms": synonyms},
            ))
        return out.result()

    @staticmethod
    def _listing(cfg: Mapping[str, Any], root: Path, exts: list[str], out: Collector):
        if cfg.get("annotations"):
            split = annotation_path(cfg, NAME)
            for line in split.read_text(encoding="utf-8").splitlines():
                rel = line.strip()
                if not rel or rel.startswith("#"):
                    continue
                genre = rel.split("/")[0] if "/" in rel else rel.split(".")[0]
                if genre not in GENRES:
                    out.skip("unknown genre in split file")
                    continue
                path = root / rel if "/" in rel else root / genre / rel
                if path.suffix.lower() not in exts:
                    # The split lists may omit the extension; take the first one present, else the first configured.
                    cands = [path.with_name(path.name + e) for e in exts]
                    path = next((c for c in cands if c.exists()), cands[0])
                yield genre, path
            return
        for genre in GENRES:
            folder = root / genre
            if not folder.is_dir():
                out.skip(f"genre folder missing: {genre}")
                continue
            for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in exts):
                yield genre, path


__all__ = ["GTZAN", "GENRES", "SYNONYMS", "merge_synonyms"]
