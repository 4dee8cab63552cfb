"""`mir_metadata`: MIR facts for every track of `raw_audio`.

Outputs (under `data/mir_metadata/`): `tracks.jsonl` (one `MirFacts` per
track, with per-30 s `segments`) and `quarantine.jsonl`.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from musicflamingo.io import read_jsonl, sha256_text, write_jsonl
from musicflamingo.mir.annotate import CACHE_IRRELEVANT, Item, annotate
from musicflamingo.schemas import MirFacts
from musicflamingo.stage import StageContext


def mir_config_hash(mir: dict) -> str:
    relevant = {k: v for k, v in mir.items() if k not in CACHE_IRRELEVANT}
    import json

    return sha256_text(json.dumps(relevant, sort_keys=True))[:16]


def run_mir_metadata(cfg: DictConfig, ctx: StageContext) -> dict:
    mir = OmegaConf.to_container(cfg.mir, resolve=True)
    tracks = read_jsonl(ctx.input("raw_audio") / "tracks.jsonl")
    items = [Item(t["id"], str(ctx.root / t["path"]), t["path"], t["duration_s"]) for t in tracks]
    facts, quarantine = annotate(items, mir, mir_config_hash(mir), ctx.cache_dir / "facts", jobs=int(mir["jobs"]), desc="mir_metadata")
    rows = [MirFacts(**f) for f in facts]  # schema check before anything is written
    write_jsonl(ctx.out / "tracks.jsonl", rows)
    write_jsonl(ctx.out / "quarantine.jsonl", quarantine)
    for q in quarantine:
        ctx.log(f"quarantined {q['path']}: {q['reason']}")
    return {
        "tracks": len(rows),
        "quarantined": len(quarantine),
        "mean_tempo_bpm": round(sum(r.tempo_bpm for r in rows) / max(len(rows), 1), 1),
        "chord_changes": sum(len(r.chords) for r in rows),
    }
