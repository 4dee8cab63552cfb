"""Annotate many tracks: parallel over the cores, bounded per track in time,
cached per track by content hash + MIR config hash.

A killed run keeps every finished track in the cache; the rerun computes
only the rest. A track whose tools fail or time out becomes a quarantine row
with the reason, and the run goes on.
"""

from __future__ import annotations

import os
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from musicflamingo.io import JsonCache
from musicflamingo.mir import tools

# Settings that change *how* facts are computed; jobs/timeouts do not.
CACHE_IRRELEVANT = ("jobs", "track_timeout_s")


@dataclass
class Item:
    track_id: str
    path: str  # absolute
    rel_path: str
    duration_s: float


def _window_facts(facts: dict, start: float, end: float) -> dict:
    beats = [b for b in facts["beats"] if start <= b < end]
    ibi = [b - a for a, b in zip(beats, beats[1:])]
    tempo = round(60.0 / sorted(ibi)[len(ibi) // 2], 2) if ibi else None
    chords = [[max(s, start), min(e, end), lab] for s, e, lab in facts["chords"] if e > start and s < end]
    return {"start_s": start, "end_s": end, "tempo_bpm": tempo, "num_beats": len(beats), "chords": chords}


def analyse(item: Item, mir: dict) -> dict:
    """All facts for one track. Runs inside a worker process."""
    sr = int(mir["sample_rate"])
    audio = tools.load_mono(item.path, sr)
    duration = len(audio) / sr
    rhythm = tools.rhythm(audio, sr, tuple(mir["beats"]["beats_per_bar"]), mir["beats"]["min_bpm"], mir["beats"]["max_bpm"])
    facts = {
        "track_id": item.track_id,
        "path": item.rel_path,
        "duration_s": round(duration, 3),
        "tempo_bpm": rhythm["tempo_bpm"],
        "tempo_confidence": rhythm["tempo_confidence"],
        "time_signature": f"{rhythm['beats_per_bar']}/4" if rhythm["beats_per_bar"] else "unknown",
        "beats": rhythm["beats"],
        "downbeats": rhythm["downbeats"],
        **tools.key(audio, sr, mir["key"]["profile"]),
        "chords": tools.chords(audio, sr, duration),
        "tools": tools.tool_versions(),
    }
    seg = 30.0
    n = max(1, int(-(-duration // seg)))
    facts["segments"] = [_window_facts(facts, i * seg, min((i + 1) * seg, duration)) for i in range(n)]
    return facts


def cache_key(track_id: str, mir_hash: str) -> str:
    return f"{track_id}-{mir_hash}"


def annotate(items: list[Item], mir: dict, mir_hash: str, cache_dir: Path, jobs: int = 0, desc: str = "mir") -> tuple[list[dict], list[dict]]:
    """Return (facts per track in input order, quarantine rows)."""
    from pebble import ProcessPool

    cache = JsonCache(cache_dir)
    results: dict[str, dict] = {}
    quarantine: list[dict] = []
    todo = []
    for it in items:
        hit = cache.get(cache_key(it.track_id, mir_hash))
        if hit is not None:
            results[it.track_id] = hit
        else:
            todo.append(it)
    jobs = jobs or os.cpu_count() or 1
    timeout = float(mir.get("track_timeout_s", 300))
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit="track")
    if todo:
        # pebble kills a worker that passes its timeout; concurrent.futures cannot.
        with ProcessPool(max_workers=min(jobs, len(todo))) as pool:
            futures = [(it, pool.schedule(analyse, args=(it, mir), timeout=timeout)) for it in todo]
            for it, fut in futures:
                try:
                    facts = fut.result()
                except FutureTimeout:
                    quarantine.append({"path": it.rel_path, "sha256": it.track_id, "reason": f"MIR timeout after {timeout:.0f} s", "stage": "mir_metadata"})
                except Exception as e:  # a tool crashed on this track: quarantine it, keep going
                    quarantine.append({"path": it.rel_path, "sha256": it.track_id, "reason": f"MIR failed: {type(e).__name__}: {e}", "stage": "mir_metadata"})
                else:
                    cache.put(cache_key(it.track_id, mir_hash), facts)
                    results[it.track_id] = facts
                bar.update(1)
    bar.close()
    return [results[it.track_id] for it in items if it.track_id in results], quarantine
