"""Incremental ingest: sensor tick latency, and the time from a file landing to its annotation.

    .venv/bin/python benchmarks/inbox_benchmark.py [--files 3] [--claimed 2000] [--repeats 20]

Everything runs in a throw-away project root (its own DVC repo, Dagster instance in memory),
on excerpts of a Bach chorale rendered with FluidSynth (real music, so MIR does real work).

Figures (medians over --repeats where repeated):
- `tick_idle_s`: a new-audio sensor tick when nothing is new, with --claimed files already
  claimed in earlier batches (the steady state: every 30 s in production);
- `tick_claim_s`: a tick that claims --files new files as a batch (writes its dvc.yaml + manifest);
- `landing_to_annotated_s`: a file lands -> (settle 1 s) -> tick -> the annotation run
  (ingest, raw_audio, mir_metadata, mf_skills, mf_think through DVC, each gated by its check)
  -> MIR facts on disk, with per-step times. Ticks are polled every 0.5 s here; the daemon
  ticks every 30 s (`minimum_interval_seconds`), adding up to 30 s, and a queued run
  starts in a new process (a few seconds more).
- `rerun_s`: the same batch materialized again (DVC finds nothing to do).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _project(base: Path) -> Path:
    from musicflamingo import dvcgen
    from musicflamingo.config import compose, write_params

    root = base / "project"
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / ".dvcignore", root / ".dvcignore")
    (root / "audio_in").mkdir()
    dvcgen.write(root)
    write_params(compose(["experiment=smoke"]), root)
    subprocess.run([str(Path(sys.executable).with_name("dvc")), "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def _music(base: Path):
    import soundfile as sf

    from musicflamingo.audio import demo_corpus

    spec = demo_corpus.PieceSpec("bach/bwv66.6.mxl", None, "Bach chorale", 0, 100)
    score, _ = demo_corpus.prepare(spec, max_seconds=30)
    demo_corpus.write_midi(score, base / "x.mid")
    demo_corpus.render(base / "x.mid", base / "x.wav", Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), 22050, 60, 50_000_000)
    return sf.read(base / "x.wav")


def _tick(defs, instance):
    import dagster as dg

    sensor = defs.resolve_sensor_def("new_audio_sensor")
    t0 = time.perf_counter()
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
        result = sensor(ctx)
    elapsed = time.perf_counter() - t0
    if not isinstance(result, dg.SkipReason):
        for req in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=3, help="new files landing at once")
    ap.add_argument("--claimed", type=int, default=2000, help="files already claimed by earlier batches (idle-tick cost)")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import dagster as dg
    import soundfile as sf

    from dagster_project.definitions import build_definitions
    from dagster_project.resources import Operations, ProjectRoot
    from musicflamingo import env

    base = Path(tempfile.mkdtemp(prefix="mf-inbox-bench-"))
    try:
        root = _project(base)
        env.apply(root)
        defs = build_definitions(ProjectRoot(root=str(root)), Operations(inbox_uri="inbox", settle_s=1.0))
        instance = dg.DagsterInstance.ephemeral()
        audio, sr = _music(base)

        # Steady state: many files already claimed (tiny placeholders: listing + ledger cost only).
        old = root / "inbox" / "old"
        old.mkdir(parents=True)
        for i in range(args.claimed):
            (old / f"{i:06d}.wav").write_bytes(b"x")
        past = time.time() - 60
        for p in old.iterdir():
            os.utime(p, (past, past))
        result, _ = _tick(defs, instance)
        assert not isinstance(result, dg.SkipReason)
        idle = [_tick(defs, instance)[1] for _ in range(args.repeats)]

        # A batch lands.
        drop = root / "inbox" / "drop"
        drop.mkdir()
        landed = time.perf_counter()
        for i in range(args.files):
            start = int(4 * i * sr)
            sf.write(drop / f"new{i}.wav", audio[start : start + 8 * sr], sr)
        ticks = 0
        while True:
            result, claim_s = _tick(defs, instance)
            ticks += 1
            if not isinstance(result, dg.SkipReason):
                break
            time.sleep(0.5)
        claimed_at = time.perf_counter()
        batch = result.run_requests[-1].partition_key
        job = defs.resolve_job_def("annotation")
        run = job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=True)
        done = time.perf_counter()
        steps = {}
        for ev in run.all_events:
            if ev.event_type_value == "STEP_SUCCESS":
                steps[ev.step_key] = round(ev.event_specific_data.duration_ms / 1000, 2)
        t0 = time.perf_counter()
        again = job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=True)
        rerun = time.perf_counter() - t0
        recomputed = [e.asset_key.to_user_string() for e in again.get_asset_materialization_events() if e.materialization.metadata["recomputed"].value]
        annotated = len((root / "batches" / batch / "data/mir_metadata/tracks.jsonl").read_text().splitlines())

        print(json.dumps({
            "files": args.files,
            "annotated_tracks": annotated,
            "claimed_before": args.claimed,
            "tick_idle_s_median": round(statistics.median(idle), 4),
            "tick_idle_s_max": round(max(idle), 4),
            "tick_claim_s": round(claim_s, 4),
            "ticks_until_settled": ticks,
            "landing_to_claim_s": round(claimed_at - landed, 2),
            "landing_to_annotated_s": round(done - landed, 2),
            "annotation_run_s": round(done - claimed_at, 2),
            "step_s": steps,
            "rerun_s": round(rerun, 2),
            "rerun_recomputed": recomputed,
            "cpu_count": os.cpu_count(),
        }, indent=2))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
