"""Ingest on a hostile corpus: one true row per input, no crash, bounded memory.

Builds the hostile corpus (musicflamingo.testing.hostile: every case of the
real-files issue plus more, each described in its `doc`), then

1. runs the real `raw_audio` stage over it (demo corpus off) and counts
   inputs against outcome rows, valid files accepted, wrong quarantines and
   crashes;
2. decodes every case in a fresh worker process (pebble, one task per
   process) with the shared loader and reports each worker's peak RSS
   (`ru_maxrss` of that process), so the figure is per input, not a sum.

3. with `--mir-long AUDIO`, loops AUDIO to a 19-minute FLAC and annotates it
   with `musicflamingo mir annotate -j 1`, reporting the MIR worker's peak RSS
   (the largest waited-for descendant's `ru_maxrss`) and CPU time.

Run: `.venv/bin/python benchmarks/ingest_benchmark.py [--no-big] [--keep DIR] [--mir-long AUDIO]`
(`--big` cases are the 1 h AAC and the 12,480 s 8-bit WAV; about 100 MB on disk).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _decode_in_worker(path: str) -> tuple[str, float, float]:
    """(outcome, peak RSS in MB of this worker, seconds) for one input, in a fresh process."""
    from musicflamingo.audio import loader

    t0 = time.perf_counter()
    try:
        d = loader.decode(path, loader.Limits())
        loader.check_signal(d, 1.0, 1800.0, -60.0)
        outcome = "track"
    except loader.Rejected as e:
        outcome = str(e)
    return outcome, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-big", action="store_true", help="skip the large cases (1 h AAC, 100 MB WAV)")
    ap.add_argument("--keep", default=None, help="build the corpus here and keep it (default: a temp folder)")
    ap.add_argument("--mir-long", default=None, metavar="AUDIO", help="also annotate AUDIO looped to 19 minutes and report the MIR worker's peak RSS")
    args = ap.parse_args()

    from pebble import ProcessPool

    from musicflamingo import registry
    from musicflamingo.audio.stage import run_raw_audio
    from musicflamingo.config import compose
    from musicflamingo.io import read_jsonl
    from musicflamingo.stage import StageContext
    from musicflamingo.testing import hostile

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    corpus = root / "audio_in"
    shutil.rmtree(corpus, ignore_errors=True)
    t0 = time.perf_counter()
    cases = hostile.build(corpus, include_big=not args.no_big)
    print(f"hostile corpus: {len(cases)} inputs in {corpus} (built in {time.perf_counter() - t0:.1f} s)")

    # 1. The real stage: rows and verdicts.
    crashes = 0
    t0 = time.perf_counter()
    try:
        run_raw_audio(compose(["data.demo.enabled=false"]), StageContext(root=root, stage=registry.get("raw_audio")))
    except Exception as e:  # a crash of the stage is the figure, not the end of the benchmark
        crashes += 1
        print(f"raw_audio CRASHED: {type(e).__name__}: {e}")
    stage_s = time.perf_counter() - t0
    out = root / "data" / "raw_audio"
    outcomes = {t["tags"]["original_path"].removeprefix("audio_in/"): "track" for t in read_jsonl(out / "tracks.jsonl")}
    rows = len(outcomes)
    for q in read_jsonl(out / "quarantine.jsonl"):
        outcomes[q["path"].removeprefix("audio_in/")] = q["reason"]
        rows += 1
    wrong, missing = [], []
    for c in cases:
        got = hostile.outcome_for(c, outcomes)
        if got is None:
            missing.append(c.name)
        elif not hostile.matches(c, got):
            wrong.append((c, got))
    valid = [c for c in cases if c.expect == "track"]
    accepted = [c for c in valid if hostile.outcome_for(c, outcomes) == "track"]
    wrong_quarantine = [w for w in wrong if w[0].expect == "track"]

    # 2. Peak RSS per worker: each input decoded alone in a fresh process.
    rss: dict[str, tuple[float, float]] = {}
    files = sorted(p for p in corpus.rglob("*") if p.is_file() or p.is_symlink())
    with ProcessPool(max_workers=2, max_tasks=1) as pool:
        futures = {p: pool.schedule(_decode_in_worker, args=(str(p),), timeout=600) for p in files}
        for p, fut in futures.items():
            try:
                _, mb, sec = fut.result()
            except Exception as e:
                crashes += 1
                print(f"worker CRASHED on {p.name!r}: {type(e).__name__}: {e}")
                continue
            rss[str(p.relative_to(corpus))] = (mb, sec)

    print(f"\nraw_audio stage: {stage_s:.1f} s")
    print(f"inputs                  {len(cases)}")
    print(f"outcome rows            {rows}   (must equal inputs)")
    print(f"valid files accepted    {len(accepted)} of {len(valid)}")
    print(f"wrong quarantines       {len(wrong_quarantine)}")
    print(f"wrong outcomes (all)    {len(wrong)}   missing rows {len(missing)}")
    print(f"crashes                 {crashes}")
    peak = max(rss.values(), key=lambda v: v[0]) if rss else (0.0, 0.0)
    print(f"peak RSS per worker     max {peak[0]:.0f} MB, median {statistics.median(v[0] for v in rss.values()):.0f} MB over {len(rss)} inputs")
    for c, got in wrong:
        print(f"  WRONG {c.name!r}: expected {c.expect!r}, got {got!r}")
    for name in missing:
        print(f"  NO ROW {name!r}")
    print("\nper input: expected | outcome | peak RSS MB | decode s")
    for c in cases:
        got = hostile.outcome_for(c, outcomes) or "NO ROW"
        key = next((k for k in rss if k == c.name or k.startswith(c.name + "/")), None)
        mb, sec = rss.get(key, (float("nan"), float("nan")))
        shown = c.name.encode("utf-8", "backslashreplace").decode()
        print(f"  {shown:26s} {str(c.expect):22.22s} {got[:60]:60s} {mb:6.0f} {sec:6.2f}")
    if args.mir_long:
        _mir_long(Path(args.mir_long), root)
    ok = rows == len(cases) and not wrong and not missing and not crashes
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


def _mir_long(audio: Path, root: Path, seconds: float = 1140.0) -> None:
    import subprocess
    import sys

    long = root / "long19.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(audio), "-t", str(seconds), "-c:a", "flac", str(long)], check=True, timeout=600)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cli = Path(sys.executable).with_name("musicflamingo")
    proc = subprocess.run([str(cli), "mir", "annotate", str(long), "--out", str(root / "mir-long"), "-j", "1"], capture_output=True, text=True, timeout=7200)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"\nmir annotate on {seconds / 60:.0f} min of {audio.name} (-j 1): exit {proc.returncode}, "
          f"peak RSS {after.ru_maxrss / 1024:.0f} MB (largest process), {cpu:.0f} CPU-s, {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    raise SystemExit(main())
