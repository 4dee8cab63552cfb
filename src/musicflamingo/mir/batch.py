"""`musicflamingo mir annotate`: a folder or manifest of audio in, `tracks.jsonl`
+ `quarantine.jsonl` out. The `mir_metadata` stage calls `annotate_to_dir`
with the tracks of `raw_audio`, so both go through the same code.
"""

from __future__ import annotations

import json
from pathlib import Path

from musicflamingo.io import read_jsonl, sha256_file, sha256_text, write_jsonl
from musicflamingo.mir.annotate import CACHE_IRRELEVANT, Item, annotate
from musicflamingo.schemas import MirFacts

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aif", ".aiff", ".opus"}


def mir_config_hash(mir: dict) -> str:
    """Hash of the settings that change the facts (not workers or time limits): the cache key's config half."""
    relevant = {k: v for k, v in mir.items() if k not in CACHE_IRRELEVANT}
    return sha256_text(json.dumps(relevant, sort_keys=True))[:16]


def collect(source: Path) -> list[Path]:
    """Audio files under a folder (by suffix), or the paths a manifest lists.

    A manifest is `.jsonl` (objects with `path`) or a text file with one path
    per line; relative paths are taken from the manifest's folder.
    """
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such folder or manifest")
    if source.suffix == ".jsonl":
        paths = [row["path"] for row in read_jsonl(source)]
    else:
        paths = [ln.strip() for ln in source.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [p if p.is_absolute() else source.parent / p for p in map(Path, paths)]


def items_for(paths: list[Path], root: Path | None = None) -> tuple[list[Item], list[dict]]:
    """Items keyed by content hash; files that cannot even be hashed become quarantine rows."""
    items, quarantine, seen = [], [], set()
    for p in paths:
        rel = p.relative_to(root).as_posix() if root and p.is_relative_to(root) else str(p)
        if not p.is_file():
            quarantine.append({"path": rel, "sha256": None, "reason": "not a regular file", "stage": "mir_metadata"})
            continue
        if p.stat().st_size == 0:
            quarantine.append({"path": rel, "sha256": None, "reason": "empty file (0 bytes)", "stage": "mir_metadata"})
            continue
        sha = sha256_file(p)
        if sha in seen:
            continue  # the same audio twice: annotated once
        seen.add(sha)
        items.append(Item(sha, str(p.resolve()), rel, 0.0))
    return items, quarantine


def annotate_to_dir(items: list[Item], mir: dict, out: Path, cache_dir: Path, jobs: int = 0, pre_quarantine: list[dict] | None = None, desc: str = "mir annotate") -> dict:
    """Annotate `items` (cached, resumable) and write `out/tracks.jsonl` and `out/quarantine.jsonl` atomically."""
    for it in items:  # the per-track timeout scales with length; sizes are cheap to read
        if not it.duration_s:
            it.duration_s = _duration(it.path)
    facts, quarantine = annotate(items, mir, mir_config_hash(mir), cache_dir, jobs=jobs, desc=desc)
    rows = [MirFacts(**f) for f in facts]  # schema check before anything is written
    quarantine = (pre_quarantine or []) + quarantine
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "tracks.jsonl", rows)
    write_jsonl(out / "quarantine.jsonl", quarantine)
    return {
        "tracks": len(rows),
        "quarantined": len(quarantine),
        "audio_s": round(sum(r.duration_s for r in rows), 1),
        "mean_tempo_bpm": round(sum(r.tempo_bpm for r in rows) / max(len(rows), 1), 1),
        "chord_changes": sum(len(r.chords) for r in rows),
        "sung_tracks": sum(bool(f.get("vocals")) for f in facts),
    }


def _duration(path: str) -> float:
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except Exception:
        return 0.0  # undecodable here: the worker's validator will say why
