"""A synthetic corpus on disk: `data/mir_metadata` and `data/raw_audio` rows for the data stages (no audio files)."""

from __future__ import annotations

from pathlib import Path

from musicflamingo.testing.synthetic import synthetic_track
from musicflamingo.io import write_jsonl


def write_corpus(root: Path, n: int) -> list[dict]:
    """Write the facts and raw_audio rows of `n` synthetic tracks (seeds 0..n-1) under `root/data`; return the facts."""
    facts, tracks = [], []
    for seed in range(n):
        f, tags = synthetic_track(seed)
        facts.append(f)
        tracks.append({"id": f["track_id"], "path": f["path"], "source": "demo", "duration_s": f["duration_s"], "sample_rate": 22050,
                       "channels": 1, "tags": tags})
    write_jsonl(Path(root) / "data/mir_metadata/tracks.jsonl", facts)
    write_jsonl(Path(root) / "data/raw_audio/tracks.jsonl", tracks)
    return facts
