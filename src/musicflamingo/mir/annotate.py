"""Annotate many tracks: parallel over the cores, bounded per track in time,
cached per track by content hash + MIR config hash.

`analyse` runs every tool once on one decoded signal, keeps each tool's own
estimates under `per_tool`, and fuses them into the facts. A killed run
keeps every finished track in the cache; the rerun computes only the rest.
A track whose tools fail or time out becomes a quarantine row with the
reason, and the run goes on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from musicflamingo.io import JsonCache
from musicflamingo.mir import features, fuse, tagger, tools, vocals

# Settings that change *how* facts are computed stay in the cache key; these do not.
CACHE_IRRELEVANT = ("jobs", "track_timeout_s", "timeout_per_audio_s")


@dataclass
class Item:
    track_id: str
    path: str  # absolute
    rel_path: str
    duration_s: float


class _Clock:
    """CPU seconds (`time.process_time`: this process, all its threads) spent per phase,
    reported in the facts (`timings_s`) for the benchmark's profile. CPU time, not wall
    time, so the figures hold on a loaded machine."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self._t = time.process_time()

    def lap(self, name: str) -> None:
        now = time.process_time()
        self.spent[name] = round(self.spent.get(name, 0.0) + now - self._t, 4)
        self._t = now


def _in(spans: list[list], start: float, end: float) -> list[list]:
    return [[round(max(s, start), 3), round(min(e, end), 3), lab] for s, e, lab in spans if e > start and s < end]


def _window_vocals(facts: dict, start: float, end: float, cfg: dict) -> bool | None:
    """The window's vocals from the tagger patches inside it; never "yes" where the track is not."""
    ev = facts["_vocal_evidence"]
    inside = ev[int(start // tagger.PATCH_S) : max(int(start // tagger.PATCH_S) + 1, int(end // tagger.PATCH_S))]
    state = vocals.detect(inside, cfg)["state"] if len(inside) else "unknown"
    if state == "yes" and facts["vocals_state"] != "yes":
        state = "unknown"
    return vocals.AS_BOOL[state]


def _window_facts(facts: dict, ff: dict, chroma_c, chroma_fps: float, start: float, end: float, mir: dict) -> dict:
    """The same facts restricted to [start, end)."""
    beats = [b for b in facts["beats"] if start <= b < end]
    ibi = np.diff(beats)
    local = 60.0 / float(np.median(ibi)) if len(ibi) else None
    tempo = facts["tempo_bpm"]
    all_ibi = np.diff(facts["beats"])
    if local and tempo and len(all_ibi):  # the window's own tempo at the track's metrical level
        tempo = round(local * tempo * float(np.median(all_ibi)) / 60.0, 2)
    key = facts["key"]
    if chroma_c is not None and len(chroma_c):
        window_keys = features.section_keys([[start, end, "w"]], chroma_c, chroma_fps, facts["key"], mir["sections"])
        key = window_keys[0][2] if window_keys else key
    # EBU R128 of the window from the track's momentary blocks (no second pass over the audio); a window
    # under 3 s (one short-term block) gets none, as before.
    lufs = tools.window_loudness(facts["_momentary_lufs"], start, end) if end - start > 3.0 else None
    frames = slice(int(start * features.FPS), int(end * features.FPS))
    words = [w for w in facts["words"] if start <= w[0] < end]
    return {
        "start_s": round(start, 3),
        "end_s": round(end, 3),
        "tempo_bpm": tempo if local else None,
        "num_beats": len(beats),
        "key": key,
        "chords": _in(facts["chords"], start, end),
        "sections": _in(facts["sections"], start, end),
        "loudness_lufs": lufs,
        "brightness_hz": features.brightness_hz({k: v[frames] for k, v in ff.items() if k in ("centroid", "rms")}) if len(ff["rms"][frames]) else None,
        "onset_density": round(sum(1 for t in facts["_onsets"] if start <= t < end) / max(end - start, 1e-9), 3),
        "vocals": _window_vocals(facts, start, end, mir["vocals"]),
        "words": words,
        "lyrics": " ".join(w[2] for w in words),
    }


def analyse(item: Item, mir: dict) -> dict:
    """All facts for one track. Runs inside a worker process; raises on a tool failure."""
    from musicflamingo.audio import loader

    clock = _Clock()
    v = mir["validate"]
    decoded = loader.decode(Path(item.path), loader.Limits.from_config(v))  # raises Rejected(reason)
    loader.check_signal(decoded, v["min_duration_s"], v["max_duration_s"], v["silence_dbfs"], v["max_clipped_fraction"])
    clock.lap("decode")
    sr = int(mir["sample_rate"])
    mono = tools.resample(decoded.samples, decoded.sample_rate, sr)
    chordino_sr, loud_sr = int(mir["chordino_sample_rate"]), int(mir["loudness_sample_rate"])
    chordino_in = tools.resample(decoded.samples, decoded.sample_rate, chordino_sr)
    loud_in = tools.resample(decoded.samples, decoded.sample_rate, loud_sr)
    del decoded
    duration = len(mono) / sr
    clock.lap("resample")

    b = mir["beats"]
    mm = tools.madmom_rhythm(mono, sr, tuple(b["beats_per_bar"]), b["min_bpm"], b["max_bpm"], chunk_s=mir["chunk_s"], networks=b.get("networks", 8), num_tempi=b.get("num_tempi", 60))
    mm.pop("beat_activation")
    clock.lap("madmom_beats")
    ess_rhythm = tools.essentia_rhythm(mono) if mir["tempo"]["essentia"] else {}
    clock.lap("essentia_rhythm")
    profiles = list(dict.fromkeys([mir["key"]["profile"], *mir["key"]["profiles"]]))
    ess_keys = tools.essentia_keys(mono, sr, profiles)
    clock.lap("essentia_key")
    cnn_key = tools.madmom_key(mono, sr, chunk_s=mir["chunk_s"])
    clock.lap("madmom_key")
    mc = tools.madmom_chords(mono, sr, chunk_s=mir["chunk_s"])
    clock.lap("madmom_chords")
    chordino = tools.chordino(chordino_in, chordino_sr, duration, mir.get("chordino_step_size"), mir.get("chordino_block_size"))
    clock.lap("chordino")
    ff = features.frame_features(mono, sr)
    clock.lap("features")
    # EBU R128 of the mono mix at loudness_sample_rate (K-weighting is defined per rate; half the memory of 44.1 kHz).
    loud = tools.loudness(loud_in, loud_sr, blocks=True)
    momentary = loud.pop("momentary_lufs")
    del loud_in, chordino_in
    clock.lap("loudness")

    chroma_c = fuse.chroma_c(mc["chroma"])
    chroma_fps = 10.0  # madmom's deep chroma frame rate
    ternary = fuse.beat_subdivision(ff["onset_env"], features.FPS, mm["beats"])
    tempo = fuse.tempo(mm["tempo_bpm"], ess_rhythm.get("tempo_bpm"), ternary, mir["fusion"]["tempo"])
    tool_chords = {"chordino": chordino, "madmom_chords": mc["cnn_crf"], "madmom_deepchroma": mc["deep_chroma"]}
    nt = None
    if mir.get("notes", {}).get("enabled"):  # basic-pitch note evidence for key and chords (mir.notes)
        from musicflamingo.mir import notes

        nt = notes.evidence(mono, sr, mm["beats"], duration, mir["notes"])
        tool_chords["basic_pitch"] = nt["chords"]
        clock.lap("basic_pitch")
    key = fuse.key(cnn_key, ess_keys, chroma_c.mean(axis=0) if len(chroma_c) else None, mir["fusion"]["key"], tool_chords,
                   np.array(nt["pitch_class_profile"]) if nt else None)
    chords = fuse.chords(tool_chords, mir["fusion"]["chords"]["tool_weights"], mm["beats"], duration, key["key"], chroma_c, chroma_fps, mir["fusion"]["chords"])
    # The fused beats follow the fused tempo's metrical level (madmom's beats, split or thinned).
    beats = fuse.beats_at_level(mm["beats"], mm["downbeats"], tempo["tempo_bpm"] / mm["tempo_bpm"]) if tempo["tempo_bpm"] and mm["tempo_bpm"] else mm["beats"]
    bpb = mm["beats_per_bar"]
    if bpb is not None and beats != mm["beats"]:  # the meter counts the fused beats: madmom's bars, re-counted
        bpb = fuse.beats_per_bar(beats, mm["downbeats"]) or bpb
    if bpb is None:
        meter = "unknown"
    elif ternary > mir["fusion"]["tempo"]["ternary_threshold"]:
        meter = f"{3 * bpb}/8"  # compound meter: each tracked beat is a dotted quarter
    else:
        meter = f"{bpb}/4"
    clock.lap("fusion")
    secs = features.sections(ff, chroma_c, chroma_fps, mm["downbeats"], duration, mir["sections"])
    onsets = features.onset_times(ff)
    clock.lap("sections")

    # Vocals, instruments, genre, mood: the musicnn tagger (one row per 3 s patch); vocals calibrated.
    tg = tagger.taggram(mono, sr)
    evidence = vocals.patch_evidence(tg, tagger.labels())
    voc = vocals.detect(evidence, mir["vocals"])
    tags = tagger.tag_facts(tg, mir["tagger"])
    clock.lap("tagger")
    # ASR only where vocals are confidently present; otherwise lyrics are unknown, never guessed.
    lyr = {"state": "unknown", "reason": f"vocals {voc['state']}", "words": [], "word_probabilities": [], "all_words": [], "language": None, "language_probability": None}
    if voc["state"] == "yes" and mir["asr"]["backend"] != "none":
        from musicflamingo.mir import asr

        lyr = asr.lyrics(mono, sr, mir["asr"])
    words = lyr["words"]
    clock.lap("asr")

    n_bars = max(len(mm["downbeats"]), 1)
    changes = sum(1 for a, c in zip(chords, chords[1:]) if a[2] != c[2])
    facts = {
        "track_id": item.track_id,
        "path": item.rel_path,
        "duration_s": round(duration, 3),
        "tempo_bpm": tempo["tempo_bpm"] or 0.0,
        "tempo_confidence": tempo["tempo_confidence"],
        "tempo_alternatives": tempo["tempo_alternatives"],
        "time_signature": meter,
        "meter_confidence": fuse.meter_confidence(beats, mm["downbeats"], bpb) if meter != "unknown" else None,
        "beats": beats,
        "downbeats": mm["downbeats"],
        "key": key["key"],
        "key_confidence": key["key_confidence"],
        "key_alternatives": key["key_alternatives"],
        "chords": chords,
        "chord_confidence": fuse.chord_confidence(tool_chords, chords),
        "harmonic_rhythm": round(changes / n_bars, 3) if mm["downbeats"] else None,
        "sections": secs,
        "section_keys": features.section_keys(secs, chroma_c, chroma_fps, key["key"], mir["sections"]),
        **loud,
        "brightness_hz": features.brightness_hz(ff),
        "onset_density": round(len(onsets) / max(duration, 1e-9), 3),
        "vocals": vocals.AS_BOOL[voc["state"]],
        "vocals_state": voc["state"],
        "vocal_confidence": voc["confidence"],
        "vocal_score": voc["probability"],
        "lyrics": " ".join(w[2] for w in words),
        "words": words,
        "word_probabilities": lyr["word_probabilities"],
        "lyrics_state": lyr["state"],
        "lyrics_language": lyr["language"] if lyr["state"] == "known" else None,
        "instruments": tags["instruments"],
        "genres": tags["genres"],
        "moods": tags["moods"],
        "per_tool": {
            "madmom": {"tempo_bpm": mm["tempo_bpm"], "beats": mm["beats"], "downbeats": mm["downbeats"], "beats_per_bar": bpb, "tempo_confidence": mm["tempo_confidence"]},
            "essentia": {
                **({"tempo_bpm": ess_rhythm["tempo_bpm"], "beats": ess_rhythm["beats"]} if ess_rhythm else {}),
                "key": ess_keys[mir["key"]["profile"]][0],
                "key_confidence": ess_keys[mir["key"]["profile"]][1],
            },
            **{f"essentia_{p}": {"key": k, "key_confidence": s} for p, (k, s) in ess_keys.items()},
            "madmom_key": {"key": tools.index_key(int(np.argmax(cnn_key))), "key_confidence": round(float(np.max(cnn_key)), 3), "probs": [round(float(p), 4) for p in cnn_key]},
            "chroma_key": {
                "key": tools.index_key(int(np.argmax(fuse.chroma_key_scores(chroma_c.mean(axis=0))))) if len(chroma_c) else None,
                "chroma": [round(float(c), 4) for c in chroma_c.mean(axis=0)] if len(chroma_c) else [],
            },
            **({"basic_pitch_key": {k: nt[k] for k in ("key", "pitch_class_profile", "notes", "pitch")},
                "basic_pitch": {"chords": nt["chords"]}} if nt else {}),
            "chordino": {"chords": chordino},
            "madmom_chords": {"chords": mc["cnn_crf"]},
            "madmom_deepchroma": {"chords": mc["deep_chroma"]},
            "musicnn": {"tags": tags["tag_probabilities"], "vocal_evidence": [round(float(e), 4) for e in evidence], "vocals": voc},
            "asr": {k: lyr.get(k) for k in ("state", "reason", "all_words", "language", "language_probability", "compression_ratio")},
        },
        "tools": tools.tool_versions() | {"asr": mir["asr"]["backend"], "musicnn": tagger.TOOL} | ({"basic_pitch": notes.TOOL} if nt else {}),
    }
    facts["_onsets"] = onsets.tolist()
    facts["_vocal_evidence"] = evidence
    facts["_momentary_lufs"] = momentary
    windows = loader.window_bounds(duration, float(mir["segment_s"]))
    facts["segments"] = [_window_facts(facts, ff, chroma_c, chroma_fps, start, end, mir) for start, end in windows]
    del facts["_onsets"], facts["_vocal_evidence"], facts["_momentary_lufs"]
    clock.lap("segments")
    facts["timings_s"] = clock.spent
    return finite_or_null(facts)


def finite_or_null(facts: dict) -> dict:
    """Replace every NaN/Inf in the facts by None and list where, under `nonfinite` (strict JSON downstream)."""
    where: list[str] = []

    def clean(x, path: str):
        if isinstance(x, float) and not np.isfinite(x):
            where.append(path)
            return None
        if isinstance(x, np.floating):
            return clean(float(x), path)
        if isinstance(x, dict):
            return {k: clean(v, f"{path}.{k}" if path else k) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(x)]
        return x

    out = clean(facts, "")
    if where:
        out["nonfinite"] = {"fields": where[:50], "reason": "non-finite value from a tool, recorded as null"}
    return out


def cache_key(track_id: str, mir_hash: str) -> str:
    return f"{track_id}-{mir_hash}"


def preload(mir: dict) -> None:
    """Import every tool and load every model once, in the parent, before the pool forks its workers.

    Forked workers share them copy-on-write, so neither a worker's start nor its
    recycling (`tasks_per_worker`) pays the imports and model loading again (about
    3 CPU-s each: madmom's 13 networks, essentia, librosa, basic-pitch). Nothing is run
    here, so no thread pool exists before the fork. With a spawn start method the
    workers load lazily instead (every loader is cached per process)."""
    tools.preload(mir)
    tagger.load()
    features.preload()
    if mir.get("notes", {}).get("enabled"):
        from musicflamingo.mir import notes

        notes._model()


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what stops (and keeps finished work).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One worker per core does the parallel work: a tool's own threads would only spin against the other
    # workers (OpenBLAS, torch's intra-op pool; the ONNX sessions are opened with one thread in tools).
    # torch is not imported for this (0.9 CPU-s): no MIR tool needs it since the tagger runs on
    # onnxruntime, and the one backend that does (asr `whisper`) sets its own threads when it loads.
    import sys

    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    threadpool_limits(1)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run; finished tracks are in the cache. One-line message."""


def annotate(items: list[Item], mir: dict, mir_hash: str, cache_dir: Path, jobs: int = 0, desc: str = "mir") -> tuple[list[dict], list[dict]]:
    """Return (facts per track in input order, quarantine rows).

    Each track runs in a pebble worker that is killed at its deadline
    (`track_timeout_s` + `timeout_per_audio_s` x duration): that bounds every
    tool call inside it, including C code that cannot be interrupted.
    Each result is cached (atomically) the moment it arrives. Ctrl-C or
    SIGTERM stops the pool at once (pebble's `stop`, not the draining
    `close`) and raises `Interrupted`; a failed cache write stops the run
    the same way, so no work is computed that cannot be kept.
    """
    from pebble import ProcessPool

    from musicflamingo.audio.loader import Rejected

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
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (all cores) or more, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit="track")
    if todo:
        previous_term = signal.signal(signal.SIGTERM, _raise_interrupt) if threading.current_thread() is threading.main_thread() else None
        pool = None
        try:
            preload(mir)  # inside the try: a signal while the models load is an ordinary interrupt
            # One worker per job, recycled after some tracks to return memory; pebble kills a worker past its timeout.
            pool = ProcessPool(max_workers=min(jobs, len(todo)), max_tasks=int(mir.get("tasks_per_worker", 20)), initializer=_worker_init)
            futures = {}
            for it in todo:
                timeout = float(mir.get("track_timeout_s", 300)) + float(mir.get("timeout_per_audio_s", 1.0)) * it.duration_s
                futures[pool.schedule(analyse, args=(it, mir), timeout=timeout)] = (it, timeout)
            for fut in as_completed(futures):
                it, timeout = futures[fut]
                try:
                    facts = fut.result()
                except Rejected as e:  # bad audio: the loader's own reason
                    quarantine.append({"path": it.rel_path, "sha256": it.track_id, "reason": str(e), "stage": "mir_metadata"})
                except FutureTimeout:
                    quarantine.append({"path": it.rel_path, "sha256": it.track_id, "reason": f"MIR timeout after {timeout:.0f} s", "stage": "mir_metadata"})
                except Exception as e:  # a tool crashed on this track: quarantine it, keep going
                    quarantine.append({"path": it.rel_path, "sha256": it.track_id, "reason": f"MIR failed: {type(e).__name__}: {e}", "stage": "mir_metadata"})
                else:
                    cache.put(cache_key(it.track_id, mir_hash), facts)  # atomic; an OSError here stops the run
                    results[it.track_id] = facts
                bar.update(1)
        except KeyboardInterrupt as e:
            # A second Ctrl-C (or `timeout` forwarding one) while the workers stop must not turn into a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if previous_term is not None:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if pool is not None:
                pool.stop()
                pool.join(timeout=10)
            bar.close()
            raise Interrupted(f"interrupted: {len(results)} of {len(items)} tracks finished and cached in {cache_dir}; rerun to resume") from e
        except BaseException:
            if pool is not None:
                pool.stop()
                pool.join(timeout=10)
            raise
        else:
            pool.close()
            pool.join()
        finally:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
    bar.close()
    order = {it.track_id: i for i, it in enumerate(items)}
    quarantine.sort(key=lambda q: order.get(q["sha256"], 0))
    return [results[it.track_id] for it in items if it.track_id in results], quarantine


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
