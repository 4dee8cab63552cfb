"""`raw_audio`: render the demo corpus, ingest the input folder, validate
everything, build the 30 s segment index and the quarantine table.

Outputs (under `data/raw_audio/`):
- `tracks.jsonl`      one `Track` per usable file
- `segments.jsonl`    30 s windows per track (last one may be partial)
- `quarantine.jsonl`  one row per rejected file, with its reason
- `audio/`, `truth/`  the audio the later stages read; ground-truth sidecars
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from musicflamingo.audio import demo_corpus, validate
from musicflamingo.config import section_hash
from musicflamingo.io import JsonCache, sha256_file, write_json, write_jsonl
from musicflamingo.schemas import QuarantineRow, Segment, Track
from musicflamingo.stage import StageContext

IGNORED_INPUT_NAMES = {"README.md", ".gitkeep"}
DEMO_LICENCE = "public-domain score from the music21 corpus, rendered with FluidSynth"


def _render_demo(cfg: DictConfig, ctx: StageContext, quarantine: list[QuarantineRow]) -> list[tuple[Path, dict]]:
    """Render `num_pieces` demo pieces (cached per piece); return (wav path, truth) pairs."""
    demo = OmegaConf.to_container(cfg.data.demo, resolve=True)
    audio_dir, truth_dir = ctx.out / "audio" / "demo", ctx.out / "truth"
    audio_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Path, dict]] = []
    for wav, truth in demo_corpus.render_corpus(demo, cfg.seed, ctx.cache_dir / "renders", demo["num_pieces"], desc="raw_audio: render demo corpus"):
        if wav is None:
            spec, reason = truth
            quarantine.append(QuarantineRow(path=f"music21:{spec.corpus_path}#{spec.number}", reason=f"render failed: {reason}", stage="raw_audio"))
            continue
        target = audio_dir / f"{truth['piece_id']}.wav"
        shutil.copyfile(wav, target)
        write_json(truth_dir / f"{truth['piece_id']}.json", truth)
        done.append((target, truth))
    if len(done) < demo["num_pieces"]:
        raise RuntimeError(f"only {len(done)} of {demo['num_pieces']} demo pieces could be rendered; widen data.demo.sources")
    return done


def _input_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in IGNORED_INPUT_NAMES and not p.name.startswith("."))


def run_raw_audio(cfg: DictConfig, ctx: StageContext) -> dict:
    d = cfg.data
    quarantine: list[QuarantineRow] = []
    candidates: list[tuple[Path, str, dict | None]] = []  # (path, source, truth)
    if d.demo.enabled:
        candidates += [(wav, "demo", truth) for wav, truth in _render_demo(cfg, ctx, quarantine)]
    input_dir = ctx.root / d.input_dir
    inputs = _input_files(input_dir)
    candidates += [(p, "input", None) for p in inputs]

    # Decoding is cheap next to MIR, but cached anyway so a resumed run is instant.
    cache = JsonCache(ctx.cache_dir / "validated")
    vkey = section_hash(cfg, "data.min_duration_s", "data.max_duration_s", "data.silence_dbfs", "data.max_file_bytes")
    tracks: list[Track] = []
    seen: dict[str, str] = {}
    for path, source, truth in tqdm(candidates, desc="raw_audio: decode + validate", unit="file"):
        rel_src = path.relative_to(ctx.root).as_posix() if path.is_relative_to(ctx.root) else str(path)
        sha = sha256_file(path) if path.stat().st_size else None
        if sha and sha in seen:
            quarantine.append(QuarantineRow(path=rel_src, reason=f"duplicate of {seen[sha]}", stage="raw_audio", sha256=sha))
            continue
        verdict = cache.get(f"{sha}-{vkey}") if sha else None
        if verdict is None:
            try:
                decoded = validate.decode(path, d.decode_timeout_s, d.max_file_bytes)
                validate.check_signal(decoded, d.min_duration_s, d.max_duration_s, d.silence_dbfs)
                verdict = {"ok": True, "duration_s": round(decoded.duration_s, 4), "sample_rate": decoded.sample_rate, "channels": decoded.channels}
            except validate.Rejected as e:
                verdict = {"ok": False, "reason": str(e)}
            if sha:
                cache.put(f"{sha}-{vkey}", verdict)
        if not verdict["ok"]:
            quarantine.append(QuarantineRow(path=rel_src, reason=verdict["reason"], stage="raw_audio", sha256=sha))
            continue
        assert sha is not None
        seen[sha] = rel_src
        if source == "input":
            # Copy into the versioned out dir so DVC pins exactly what was ingested.
            target = ctx.out / "audio" / "input" / f"{sha[:16]}{path.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            path = target
        tracks.append(
            Track(
                id=sha,
                path=path.relative_to(ctx.root).as_posix(),
                source=source,
                duration_s=verdict["duration_s"],
                sample_rate=verdict["sample_rate"],
                channels=verdict["channels"],
                licence=DEMO_LICENCE if truth else "unknown (user input)",
                title=truth["title"] if truth else path.stem,
                tags={"tradition": truth["tradition"], "instruments": truth["instruments"]} if truth else {"original_path": rel_src},
                truth=f"{ctx.stage.out}/truth/{truth['piece_id']}.json" if truth else None,
            )
        )

    seg_len = float(d.segment_s)
    segments = [
        Segment(track_id=t.id, index=i, start_s=i * seg_len, end_s=min((i + 1) * seg_len, t.duration_s), partial=(i + 1) * seg_len > t.duration_s)
        for t in tracks
        for i in range(math.ceil(t.duration_s / seg_len))
    ]
    write_jsonl(ctx.out / "tracks.jsonl", tracks)
    write_jsonl(ctx.out / "segments.jsonl", segments)
    write_jsonl(ctx.out / "quarantine.jsonl", quarantine)
    for q in quarantine:
        ctx.log(f"quarantined {q.path}: {q.reason}")
    return {
        "tracks": len(tracks),
        "demo_tracks": sum(t.source == "demo" for t in tracks),
        "input_tracks": sum(t.source == "input" for t in tracks),
        "segments": len(segments),
        "quarantined": len(quarantine),
        "total_audio_s": round(sum(t.duration_s for t in tracks), 1),
    }
