"""`mir_metadata`: MIR facts for every track of `raw_audio`.

Outputs (under `data/mir_metadata/`): `tracks.jsonl` (one `MirFacts` per
track, with per-30 s `segments`) and `quarantine.jsonl`. Same code path as
`musicflamingo mir annotate` (`batch.annotate_to_dir`).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from musicflamingo.io import read_jsonl
from musicflamingo.mir.annotate import Item
from musicflamingo.mir.batch import annotate_to_dir, mir_config_hash
from musicflamingo.stage import StageContext

__all__ = ["mir_config_hash", "run_mir_metadata"]


def run_mir_metadata(cfg: DictConfig, ctx: StageContext) -> dict:
    mir = OmegaConf.to_container(cfg.mir, resolve=True)
    tracks = read_jsonl(ctx.input("raw_audio") / "tracks.jsonl")
    items = [Item(t["id"], str(ctx.root / t["path"]), t["path"], t["duration_s"]) for t in tracks]
    summary = annotate_to_dir(items, mir, ctx.out, ctx.cache_dir / "facts", jobs=int(mir["jobs"]), desc="mir_metadata")
    for q in read_jsonl(ctx.out / "quarantine.jsonl"):
        ctx.log(f"quarantined {q['path']}: {q['reason']}")
    return summary
