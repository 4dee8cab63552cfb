"""`raw_audio`: render the demo corpus, ingest the input folder, validate
everything, build the 30 s segment index and the quarantine table.

Outputs (under `data/raw_audio/`):
- `tracks.jsonl`      one `Track` per usable file
- `segments.jsonl`    30 s windows per track (last one may be partial)
- `quarantine.jsonl`  one row per rejected file, with its reason
- `audio/`, `truth/`  the audio the later stages read; ground-truth sidecars
"""

from __future__ import annotations

import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from musicflamingo.audio import demo_corpus, inputs, loader
from musicflamingo.config import section_hash
from musicflamingo.io import JsonCache, sha256_file, write_json, write_jsonl
from musicflamingo.schemas import QuarantineRow, Segment, Track
from musicflamingo.stage import StageContext

DEMO_LICENCE = "public-domain score from the music21 corpus, rendered with FluidSynth"


def _render_demo(cfg: DictConfig, ctx: StageContext, quarantine: list[dict]) -> list[tuple[Path, dict]]:
    """Render `num_pieces` demo pieces (cached per piece); return (wav path, truth) pairs."""
    demo = OmegaConf.to_container(cfg.data.demo, resolve=True)
    audio_dir, truth_dir = ctx.out / "audio" / "demo", ctx.out / "truth"
    audio_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Path, dict]] = []
    for wav, truth in demo_corpus.render_corpus(demo, cfg.seed, ctx.cache_dir / "renders", demo["num_pieces"], desc="raw_audio: render demo corpus"):
        if wav is None:
            spec, reason = truth
            quarantine.append(inputs.row(f"music21:{spec.corpus_path}#{spec.number}", f"render failed: {reason}", "raw_audio"))
            continue
        target = audio_dir / f"{truth['piece_id']}.wav"
        shutil.copyfile(wav, target)
        write_json(truth_dir / f"{truth['piece_id']}.json", truth)
        done.append((target, truth))
    if len(done) < demo["num_pieces"]:
        raise RuntimeError(f"only {len(done)} of {demo['num_pieces']} demo pieces could be rendered; widen data.demo.sources")
    return done


def run_raw_audio(cfg: DictConfig, ctx: StageContext) -> dict:
    d = cfg.data
    quarantine: list[dict] = []
    candidates = _candidates(cfg, ctx, quarantine)
    # Decoding is cheap next to MIR, but cached anyway so a resumed run is instant.
    cache = JsonCache(ctx.cache_dir / "validated")
    vkey = section_hash(cfg, "data.min_duration_s", "data.max_duration_s", "data.silence_dbfs", "data.max_file_bytes")
    bounds = loader.Limits.from_config(d)
    tracks: list[Track] = []
    for it, source, truth in tqdm(candidates, desc="raw_audio: decode + validate", unit="file"):
        sha = it.sha256
        verdict = cache.get(f"{sha}-{vkey}-v2") if sha else None
        if verdict is None:
            verdict = _validate(it.path, bounds, d)
            if sha:
                cache.put(f"{sha}-{vkey}-v2", verdict)
        if not verdict["ok"]:
            quarantine.append(inputs.row(it.display, verdict["reason"], "raw_audio", sha, it.note))
            continue
        assert sha is not None  # a decodable file was hashed
        tracks.append(_track(ctx, it, source, truth, verdict))

    seg_len = float(d.segment_s)
    segments = [
        Segment(track_id=t.id, index=i, start_s=start, end_s=end, partial=abs(end - start - seg_len) > 1e-6)
        for t in tracks
        for i, (start, end) in enumerate(loader.window_bounds(t.duration_s, seg_len))
    ]
    write_jsonl(ctx.out / "tracks.jsonl", tracks)
    write_jsonl(ctx.out / "segments.jsonl", segments)
    write_jsonl(ctx.out / "quarantine.jsonl", [QuarantineRow(**q) for q in quarantine])
    for q in quarantine:
        ctx.log(f"quarantined {q['path']}: {q['reason']}")
    return {
        "tracks": len(tracks),
        "demo_tracks": sum(t.source == "demo" for t in tracks),
        "input_tracks": sum(t.source == "input" for t in tracks),
        "segments": len(segments),
        "quarantined": len(quarantine),
        "total_audio_s": round(sum(t.duration_s for t in tracks), 1),
    }


def _candidates(cfg: DictConfig, ctx: StageContext, quarantine: list[dict]) -> list[tuple[inputs.Input, str, dict | None]]:
    """(input, source, truth) for the demo corpus and the user's folder, copies removed; bad inputs go to `quarantine`."""
    d = cfg.data
    candidates: list[tuple[inputs.Input, str, dict | None]] = []
    if d.demo.enabled:
        demo = _render_demo(cfg, ctx, quarantine)
        candidates += [(inputs.Input(wav, ctx.published(wav)), "demo", truth) for wav, truth in demo]
    input_dir = ctx.root / d.input_dir
    if input_dir.is_dir():
        found, bad = inputs.collect(input_dir, ctx.root)
        quarantine += bad
        candidates += [(it, "input", None) for it in found]
    else:
        ctx.log(f"no input folder {d.input_dir}: only the demo corpus is ingested")
    kept, dups = inputs.dedupe([c[0] for c in candidates], int(d.max_file_bytes), "raw_audio")
    quarantine += dups
    kept_ids = {id(it) for it in kept}
    return [c for c in candidates if id(c[0]) in kept_ids]


def _validate(path: Path, bounds: loader.Limits, d: DictConfig) -> dict:
    """The cached verdict on one file: duration, rate and channels, or the reason it is rejected."""
    try:
        decoded = loader.decode(path, bounds)
        loader.check_signal(decoded, d.min_duration_s, d.max_duration_s, d.silence_dbfs)
        return {"ok": True, "duration_s": round(decoded.duration_s, 4), "sample_rate": decoded.sample_rate, "channels": decoded.channels}
    except loader.Rejected as e:
        return {"ok": False, "reason": str(e)}


def _track(ctx: StageContext, it: inputs.Input, source: str, truth: dict | None, verdict: dict) -> Track:
    """The track row of a valid input; user audio is copied into the versioned out dir so DVC pins exactly what was ingested."""
    sha, path = it.sha256, it.path
    if source == "input":
        target = ctx.out / "audio" / "input" / f"{sha[:16]}{path.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        path = target
    tags = {"tradition": truth["tradition"], "instruments": truth["instruments"]} if truth else {"original_path": it.display}
    if it.note:
        tags["path_note"] = it.note
    return Track(
        id=sha,
        path=ctx.published(path) if path.is_relative_to(ctx.out) else path.relative_to(ctx.root).as_posix(),
        source=source,
        duration_s=verdict["duration_s"],
        sample_rate=verdict["sample_rate"],
        channels=verdict["channels"],
        licence=DEMO_LICENCE if truth else "unknown (user input)",
        title=truth["title"] if truth else Path(it.display).stem,
        tags=tags,
        truth=f"{ctx.stage.out}/truth/{truth['piece_id']}.json" if truth else None,
    )
