"""`musicflamingo mir annotate`: a folder or manifest of audio in, `tracks.jsonl`
+ `quarantine.jsonl` out. The `mir_metadata` stage calls `annotate_to_dir`
with the tracks of `raw_audio`, so both go through the same code.
"""

from __future__ import annotations

import json
from pathlib import Path

from musicflamingo.audio import inputs, loader
from musicflamingo.io import check_writable, exclusive_lock, sha256_text, write_jsonl
from musicflamingo.mir.annotate import CACHE_IRRELEVANT, Item, annotate
from musicflamingo.schemas import MirFacts, QuarantineRow

STAGE = "mir_metadata"


def mir_config_hash(mir: dict) -> str:
    """Hash of the settings that change the facts (not workers or time limits): the cache key's config half."""
    relevant = {k: v for k, v in mir.items() if k not in CACHE_IRRELEVANT}
    return sha256_text(json.dumps(relevant, sort_keys=True))[:16]


def items_for(paths: list[Path] | list[inputs.Input], mir: dict | None = None, root: Path | None = None) -> tuple[list[Item], list[dict]]:
    """Items keyed by content hash, plus one row for every input that is not one.

    Byte-identical copies become "duplicate of <path>" rows; files that fail
    the probe (missing, not audio, too large, too long: headers only, nothing
    decoded) become quarantine rows with the loader's reason. The probe's
    duration sizes each track's deadline.
    """
    limits = loader.Limits.from_config((mir or {}).get("validate"))
    given = [p if isinstance(p, inputs.Input) else inputs.Input(Path(p), *inputs.display_name(Path(p), root)) for p in paths]
    kept, rows = inputs.dedupe(given, limits.max_file_bytes, STAGE)
    items = []
    for it in kept:
        try:
            probe = loader.probe(it.path, limits)
        except loader.Rejected as e:
            rows.append(inputs.row(it.display, str(e), STAGE, it.sha256, it.note))
            continue
        items.append(Item(it.sha256, str(Path(it.path).resolve()), it.display, probe.duration_s or 0.0))
    return items, rows


def annotate_to_dir(items: list[Item], mir: dict, out: Path, cache_dir: Path, jobs: int = 0, pre_quarantine: list[dict] | None = None, desc: str = "mir annotate") -> dict:
    """Annotate `items` (cached, resumable) and write `out/tracks.jsonl` and `out/quarantine.jsonl` atomically.

    Raises OutputError before any work if `out` or `cache_dir` cannot be
    written or another run holds `out`; `annotate.Interrupted` on Ctrl-C/SIGTERM.
    """
    check_writable(out)
    check_writable(cache_dir)
    with exclusive_lock(out, "mir annotate"):
        facts, quarantine = annotate(items, mir, mir_config_hash(mir), cache_dir, jobs=jobs, desc=desc)
        rows = [MirFacts(**f) for f in facts]  # schema check before anything is written
        quarantine = [QuarantineRow(**q) for q in (pre_quarantine or []) + quarantine]
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
