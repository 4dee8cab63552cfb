"""MIR engine benchmark: the CPU profile of `mir annotate`, before and after, with accuracy beside it.

1. Renders the first `--pieces` pieces of the demo corpus with the *benchmark*
   soundfont (FluidR3, `data=benchmark`; cached). The long set is the first
   `--long` pieces of at least 60 s; the clip set is `--clips` 2 s clips cut
   from the middle of the rendered pieces (a folder of short files).
2. **CPU profile, before and after, in one run.** For each code version (this
   checkout, and `--baseline`, a git ref exported with `git archive`), each set
   and each `-j` in `--jobs`, a fresh process runs `mir annotate`'s own code
   path (`items_for` + `annotate_to_dir`, no ASR, empty cache) and reports:
   - CPU-s per audio-s of every phase inside the workers (`timings_s`, from
     `time.process_time`; the baseline's wall clock is swapped for
     `process_time` the same way, so both columns are CPU);
   - per-file fixed cost: the workers' CPU (`RUSAGE_CHILDREN`) not inside any
     phase (imports, model loading, worker start, IPC), per file;
   - the parent's CPU: probing + hashing, and scheduling + cache + writing;
   - x realtime per CPU-second = audio s / all CPU s (parent + workers).
   CPU time holds on a loaded machine; wall time does not. `-j` scaling is
   printed both as measured wall throughput (noisy when the cores are shared)
   and as the Amdahl bound from the parent's serial CPU share.
3. Accuracy of both versions on the long set, side by side: fused tempo
   Acc1/Acc2, beat F, key weighted score, chord majmin (`mir evaluate`).
4. ASR separately: CPU-s per audio-s of the tracks whose vocals the detector
   calls "yes" (the only ones ASR runs on), and WER on the sung renders.
5. Optional: `--corpus-accuracy` scores the whole rendered set (every tool
   and fused, side by side, fused against the best single tool), then the
   musicnn tagger against each piece's General MIDI family, the fusion variants
   re-run on the stored tool outputs (`mir.evaluate.fusion_study`: with/without
   basic-pitch's note evidence, tempo from madmom alone, chord votes), and the
   share of fused tempo / key / meter facts right at or above each confidence
   (what conf/skills `confidence:` is set from); `--beat-ablation N` sizes madmom's ensemble and
   DBN grid on N tracks.

Run: `nice -n 10 .venv/bin/python benchmarks/mir_benchmark.py [--pieces 30] [--long 8] [--clips 60] [--jobs 1,2] [--baseline main]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from omegaconf import OmegaConf
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"tempo_acc1": 0.90, "tempo_acc2": 0.98, "key_weighted": 0.95, "chord_majmin": 0.65, "beat_f": 0.90}
GATED = ("tempo_acc1", "tempo_acc2", "beat_f", "key_weighted", "chord_majmin")  # must not drop after a change
# Old phase names (before the profile split them) -> the rows they cover.
OLD_PHASES = {"madmom": "madmom_beats", "essentia": "essentia_rhythm+essentia_key", "decode": "decode+resample",
              "features": "features+loudness", "fusion": "fusion+sections"}
ROWS = ["decode", "resample", "decode+resample", "madmom_beats", "essentia_rhythm", "essentia_key", "essentia_rhythm+essentia_key",
        "madmom_key", "madmom_chords", "chordino", "features", "loudness", "features+loudness", "basic_pitch", "fusion", "sections", "fusion+sections",
        "tagger", "asr", "segments"]


def tagger_report(truth: dict, preds: list[dict], evaluate) -> dict:
    """The musicnn tagger against the rendered pieces' General MIDI families (one instrument per piece)."""
    from musicflamingo.mir.tagger import INSTRUMENT_FAMILY, gm_family

    fam, asserted = {}, {}
    for p in preds:
        pid = evaluate._piece_id(p["path"], truth)
        if pid is None or truth[pid].get("gm_program") is None or not p.get("per_tool", {}).get("musicnn"):
            continue
        fam[pid] = gm_family(truth[pid]["gm_program"])
        asserted[pid] = list(dict.fromkeys(f for _, f, _ in p.get("instruments") or []))
    figs = evaluate.instrument_figures(asserted, fam)
    nameable = [i for i in fam if fam[i] in set(INSTRUMENT_FAMILY.values())]
    figs["nameable"] = len(nameable)
    figs["named_correctly_nameable"] = evaluate.instrument_figures({i: asserted[i] for i in nameable}, {i: fam[i] for i in nameable})["named_correctly"]
    from collections import Counter

    print(f"\n== tagger (musicnn MTT) vs the General MIDI family of each rendered piece ({figs['solo_recordings']} pieces; "
          f"{len(nameable)} in a family the tagger's vocabulary can name) ==")
    print(f"  family named correctly (top asserted): {figs['named_correctly']} of all, {figs['named_correctly_nameable']} of the nameable")
    print(f"  precision of asserted instruments: {figs['precision']} of {figs['asserted']}")
    print(f"  families in the corpus: {dict(Counter(fam.values()))}")
    print(f"  wrong: {figs['wrong'][:12]}")
    return figs


def confidence_calibration(truth: dict, preds: list[dict], evaluate) -> dict:
    """Accuracy of the fused tempo (Acc1), key (exact) by confidence: the share right at or above each threshold,
    to set conf/skills `confidence:` (assert where >= 0.9 are right, hedge where >= 0.5 are)."""
    rows = {"tempo": [], "key": [], "meter": []}
    for p in preds:
        pid = evaluate._piece_id(p["path"], truth)
        if pid is None:
            continue
        t = truth[pid]
        rows["tempo"].append((p.get("tempo_confidence"), evaluate.tempo_accuracy(evaluate.truth_tempo(t), p["tempo_bpm"])[0]))
        rows["key"].append((p.get("key_confidence"), float(evaluate.key_score(t["key"], p["key"]) == 1.0)))
        if p.get("meter_confidence") is not None and t.get("time_signature"):
            rows["meter"].append((p["meter_confidence"], float(p["time_signature"] == t["time_signature"])))
    out = {}
    print("\n== fused facts: share right at or above each confidence (rendered) ==")
    for kind, pairs in rows.items():
        pairs = [(c, ok) for c, ok in pairs if c is not None]
        line = []
        for th in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            sel = [ok for c, ok in pairs if c >= th]
            line.append(f">={th}: {sum(sel) / len(sel):.2f} (n={len(sel)})" if sel else f">={th}: -")
        out[kind] = pairs
        print(f"  {kind:6s} " + "  ".join(line))
    return out


def cpu_s(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_one(spec: dict) -> dict:
    """One fresh `mir annotate` of spec["paths"] (in this process, on whichever `musicflamingo` is on the path)."""
    from musicflamingo.config import compose
    from musicflamingo.io import read_jsonl
    from musicflamingo.mir import annotate
    from musicflamingo.mir.batch import annotate_to_dir, items_for

    # The baseline's phase clock read perf_counter (wall); read CPU time instead, in the workers too (forked).
    annotate.time = type("T", (), {"perf_counter": staticmethod(time.process_time), "process_time": staticmethod(time.process_time)})
    mir = OmegaConf.to_container(compose(["data=benchmark", "mir.asr.backend=none"]).mir, resolve=True)
    out = Path(spec["out"])
    c0, w0 = cpu_s(resource.RUSAGE_SELF), time.perf_counter()
    items, _ = items_for([Path(p) for p in spec["paths"]], mir)
    c1 = cpu_s(resource.RUSAGE_SELF)
    if hasattr(annotate, "preload"):  # the parent's once-per-run imports + models (before this change, each worker's)
        annotate.preload(mir)
    c2 = cpu_s(resource.RUSAGE_SELF)
    annotate_to_dir(items, mir, out, out / ".cache", jobs=spec["jobs"], desc=spec["desc"])
    c3, wall = cpu_s(resource.RUSAGE_SELF), time.perf_counter() - w0
    rows = read_jsonl(out / "tracks.jsonl")
    return {"files": len(spec["paths"]), "tracks": len(rows), "audio_s": sum(r["duration_s"] for r in rows), "wall_s": wall, "parent_start_cpu_s": c0,
            "parent_probe_cpu_s": c1 - c0, "parent_preload_cpu_s": c2 - c1, "parent_annotate_cpu_s": c3 - c2, "workers_cpu_s": cpu_s(resource.RUSAGE_CHILDREN),
            "phases": [r["timings_s"] for r in rows], "load": os.getloadavg()[0]}


def export_ref(ref: str, work: Path) -> Path:
    """`git archive` of `ref`'s src/ and conf/ into work/baseline-<sha> (read-only use; cached)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True, text=True).stdout.strip()
    dest = work / f"baseline-{sha[:12]}"
    if not (dest / "src").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "src", "conf"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest


def profile(code: Path, paths: list[Path], jobs: int, out: Path, desc: str) -> dict:
    """run_one in a fresh interpreter with `code`'s src/ and conf/ first on the path (so RUSAGE_CHILDREN is this run's alone)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(code / "src"), str(ROOT)]), "MF_CONF_DIR": str(code / "conf")}
    spec = {"paths": [str(p) for p in paths], "jobs": jobs, "out": str(out), "desc": desc}
    res = subprocess.run([sys.executable, __file__, "--run-one", json.dumps(spec)], env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def summarise(r: dict) -> dict:
    """Per-phase CPU ms per audio-s (sums over tracks), fixed costs and totals."""
    audio = r["audio_s"]
    phases = defaultdict(float)
    for t in r["phases"]:
        old = "madmom" in t  # the phase names before the profile split them
        for k, v in t.items():
            phases[OLD_PHASES.get(k, k) if old else k] += v
    inside = sum(phases.values())
    fixed = r["workers_cpu_s"] - inside
    parent = r["parent_start_cpu_s"] + r["parent_probe_cpu_s"] + r["parent_preload_cpu_s"] + r["parent_annotate_cpu_s"]
    total = r["workers_cpu_s"] + parent
    per_track = [sum(t.values()) for t in r["phases"]]
    rows = {k: 1000 * v / audio for k, v in phases.items()}
    rows |= {"worker fixed (start, imports, models, IPC)": 1000 * fixed / audio, "parent: probe + hash": 1000 * r["parent_probe_cpu_s"] / audio,
             "parent: imports + models (once per run)": 1000 * r["parent_preload_cpu_s"] / audio,
             "parent: schedule, cache, write": 1000 * r["parent_annotate_cpu_s"] / audio,
             "parent: interpreter start, CLI imports, config": 1000 * r["parent_start_cpu_s"] / audio}
    return {"rows": rows, "total_ms_per_audio_s": 1000 * total / audio, "x_realtime_per_cpu_s": audio / total, "audio_s": audio,
            "fixed_ms_per_file": 1000 * fixed / max(r["files"], 1), "median_track_cpu_s": statistics.median(per_track) if per_track else 0.0,
            "parent_share": parent / total,
            # The parent's work per track (probe, hash, schedule, cache, write), without its once-per-run start and preload.
            "parent_per_track_share": (r["parent_probe_cpu_s"] + r["parent_annotate_cpu_s"]) / total, "wall_s": r["wall_s"], "load": r["load"], "tracks": r["tracks"]}


def cut_clips(wavs: list[Path], n: int, dest: Path, seconds: float = 2.0) -> list[Path]:
    """n distinct clips of `seconds` of sound (loudest sample above -30 dBFS) from the renders, cycling
    over the pieces from 10 s in, one clip-length further on each pass, as 16-bit WAV."""
    import numpy as np
    import soundfile as sf

    dest = dest / f"{n}x{seconds:g}s"
    dest.mkdir(parents=True, exist_ok=True)
    out, offset = sorted(dest.glob("*.wav")), {w: 10.0 for w in wavs}
    while len(out) < n and wavs:
        for wav in list(wavs):
            if len(out) >= n:
                break
            x, sr = sf.read(str(wav), start=int(offset[wav] * sf.info(str(wav)).samplerate), frames=int(seconds * sf.info(str(wav)).samplerate))
            offset[wav] += seconds
            if len(x) < int(seconds * sr) * 0.99:
                wavs = [w for w in wavs if w != wav]  # this piece is used up
            elif np.abs(x).max() > 10 ** (-30 / 20):
                path = dest / f"clip{len(out):03d}_{wav.parent.name}.wav"
                sf.write(str(path), x, sr, subtype="PCM_16")
                out.append(path)
    return out


def print_profile(results: dict, versions: list[str], sets: list[str], jobs: list[int]) -> None:
    """One table: a row per phase, a column per (version, set) at -j 1; then totals and -j scaling."""
    cols = [(v, s) for s in sets for v in versions]
    summ = {k: summarise(r) for k, r in results.items()}
    names = [r for r in ROWS if any(r in summ[(v, s, jobs[0])]["rows"] for v, s in cols)]
    names += sorted({k for x in summ.values() for k in x["rows"]} - set(names) - {k for k in summ[next(iter(summ))]["rows"] if k.startswith(("worker", "parent"))})
    names += ["worker fixed (start, imports, models, IPC)", "parent: interpreter start, CLI imports, config", "parent: probe + hash",
              "parent: imports + models (once per run)", "parent: schedule, cache, write"]
    head = f"{'CPU ms per audio-s, -j ' + str(jobs[0]):44s}" + "".join(f"{v + ' ' + s:>16s}" for v, s in cols)
    print("\n== CPU profile of `mir annotate` (no ASR), ms of CPU per second of audio ==\n" + head)
    for n in names:
        vals = [summ[(v, s, jobs[0])]["rows"].get(n) for v, s in cols]
        print(f"{n:44s}" + "".join(f"{'' if x is None else f'{x:.1f}':>16s}" for x in vals))
    for label, key, fmt in (("total CPU ms per audio-s", "total_ms_per_audio_s", "{:.1f}"), ("x realtime per CPU-second", "x_realtime_per_cpu_s", "{:.1f}"),
                            ("worker fixed ms per file", "fixed_ms_per_file", "{:.0f}"), ("median CPU-s per track (phases)", "median_track_cpu_s", "{:.2f}"),
                            ("audio s", "audio_s", "{:.0f}")):
        print(f"{label:44s}" + "".join(f"{fmt.format(summ[(v, s, jobs[0])][key]):>16s}" for v, s in cols))
    for j in jobs[1:]:
        print(f"\n== -j {j} vs -j {jobs[0]} ==")
        for v, s in cols:
            a, b = summ[(v, s, jobs[0])], summ[(v, s, j)]
            amdahl = 1.0 / (b["parent_share"] + (1 - b["parent_share"]) / j)
            at_scale = 1.0 / (b["parent_per_track_share"] + (1 - b["parent_per_track_share"]) / j)
            print(f"{v + ' ' + s:20s} CPU per audio-s {b['total_ms_per_audio_s']:.1f} vs {a['total_ms_per_audio_s']:.1f} ms (x{a['total_ms_per_audio_s'] / b['total_ms_per_audio_s']:.2f} efficiency); "
                  f"parent serial share {100 * b['parent_share']:.1f} % -> Amdahl bound x{amdahl:.2f} for this run, "
                  f"x{at_scale:.2f} for a long run (per-track parent work {100 * b['parent_per_track_share']:.1f} %); "
                  f"wall throughput x{a['wall_s'] / b['wall_s']:.2f} (load average {a['load']:.1f} / {b['load']:.1f} on {os.cpu_count()} cores)")
    for v, s in cols:
        x = summ[(v, s, jobs[0])]
        print(f"{v} {s}: {x['x_realtime_per_cpu_s']:.1f}x realtime per CPU-second on {x['audio_s']:.0f} s of audio ({x['tracks']} tracks)")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--run-one":
        print(json.dumps(run_one(json.loads(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", type=int, default=30, help="pieces to render (the long set and the clips come from these)")
    ap.add_argument("--long", type=int, default=8, help="pieces of >= 60 s in the long set")
    ap.add_argument("--clips", type=int, default=60, help="2 s clips in the clip folder")
    ap.add_argument("--jobs", default="1,2", help="worker counts profiled")
    ap.add_argument("--baseline", default="main", help="git ref profiled beside this checkout ('' = none)")
    ap.add_argument("--asr-tracks", type=int, default=6, help="tracks transcribed for the ASR figures (0 = skip)")
    ap.add_argument("--corpus-accuracy", action="store_true", help="also annotate (cached) and score all rendered pieces: every tool and fused")
    ap.add_argument("--beat-ablation", type=int, default=0, metavar="N",
                    help="also measure madmom's downbeat ensemble size and DBN tempo grid on N tracks: beat F, tempo Acc1 and x realtime per setting")
    ap.add_argument("--workdir", default=str(ROOT / ".cache/mir_benchmark"), help="render + annotation cache")
    ap.add_argument("--json", default=None, help="also write all figures to this file")
    args = ap.parse_args()

    import soundfile as sf

    from musicflamingo.audio import demo_corpus
    from musicflamingo.config import compose
    from musicflamingo.io import read_jsonl, write_json
    from musicflamingo.mir import evaluate

    cfg = compose(["data=benchmark"])
    demo = OmegaConf.to_container(cfg.data.demo, resolve=True)
    work = Path(args.workdir)
    wavs, truth = [], {}
    for wav, t in demo_corpus.render_corpus(demo, cfg.seed, work / "renders", args.pieces, desc=f"render {args.pieces} pieces ({Path(demo['soundfont']).name})"):
        if wav is not None:
            wavs.append(wav)
            truth[t["piece_id"]] = t
    long = [w for w in wavs if sf.info(str(w)).duration >= 60.0][: args.long]
    clips = cut_clips(wavs, args.clips, work / "clips2s")
    print(f"\nlong set: {len(long)} pieces >= 60 s; clip set: {len(clips)} x 2 s; soundfont {demo['soundfont']}")

    versions = {"after": ROOT}
    if args.baseline:
        versions = {"before": export_ref(args.baseline, work)} | versions
    jobs = [int(j) for j in args.jobs.split(",")]
    results, preds = {}, {}
    for s, paths in (("long", long), ("clips", clips)):
        for j in jobs:
            for v, code in versions.items():
                with tempfile.TemporaryDirectory() as tmp:
                    results[(v, s, j)] = profile(code, paths, j, Path(tmp) / "out", f"{v} {s} -j {j}")
                    if s == "long" and j == jobs[0]:
                        preds[v] = read_jsonl(Path(tmp) / "out/tracks.jsonl")
    print_profile(results, list(versions), ["long", "clips"], jobs)

    acc = {v: evaluate.evaluate(truth, p)["systems"]["fused"] for v, p in preds.items()}
    print(f"\n== accuracy on the long set ({len(long)} pieces), fused ==\n{'metric':16s}" + "".join(f"{v:>10s}" for v in acc))
    for m in GATED:
        print(f"{m:16s}" + "".join(f"{(acc[v].get(m) if acc[v].get(m) is not None else float('nan')):>10.3f}" for v in acc))
    if "before" in acc:
        lower = [m for m in GATED if (acc["after"].get(m) or 0) < (acc["before"].get(m) or 0) - 1e-9]
        print("not lower than before: " + ("yes" if not lower else f"NO ({', '.join(lower)})"))

    asr_figs = asr_cost(preds["after"], long, truth, cfg, args.asr_tracks) if args.asr_tracks else {}

    corpus = {}
    if args.corpus_accuracy:
        corpus = corpus_accuracy(wavs, truth, cfg, work)
    if args.beat_ablation:
        beat_ablation(wavs[: args.beat_ablation], truth)
    if args.json:
        write_json(Path(args.json), {"profile": {f"{v} {s} -j {j}": summarise(r) for (v, s, j), r in results.items()}, "accuracy": acc, "asr": asr_figs, "corpus": corpus})


def asr_cost(preds: list[dict], long: list[Path], truth: dict, cfg, n: int) -> dict:
    """CPU-s of `asr.lyrics` per audio-s on the tracks the detector calls sung (vocals_state "yes"): where ASR runs.
    If the detector calls none of the long set sung, the sung renders are used instead (said so)."""
    import jiwer

    from musicflamingo.mir import asr, evaluate, tools

    cfg_asr = OmegaConf.to_container(cfg.mir.asr)
    by_piece = {evaluate._piece_id(p["path"], truth): p for p in preds}
    detected = [w for w in long if by_piece.get(w.parent.name, {}).get("vocals_state") == "yes"][:n]
    basis = "detected sung (vocals_state yes)"
    if not detected:
        detected, basis = [w for w in long if truth[w.parent.name]["vocals"]][:n], "sung in truth (the detector called none yes)"
    if not detected:
        return {}
    cpu, audio_s, refs, hyps = 0.0, 0.0, [], []
    for wav in detected:
        x = tools.load_mono(str(wav), 44100)
        t0 = time.process_time()
        lyr = asr.lyrics(x, 44100, cfg_asr)
        cpu += time.process_time() - t0
        audio_s += len(x) / 44100
        refs.append(truth[wav.parent.name].get("lyrics") or "")
        hyps.append(" ".join(w[2] for w in lyr["all_words"]))  # everything heard: WER of the recogniser, before the confidence filter
    figs = {"backend": cfg.mir.asr.backend, "basis": basis, "tracks": len(detected), "audio_s": round(audio_s, 1), "cpu_s_per_audio_s": round(cpu / audio_s, 4),
            "wer": round(jiwer.wer([r for r in refs if r] or [""], [h for r, h in zip(refs, hyps) if r] or [""]), 3) if any(refs) else None}
    print(f"\n== ASR ({figs['backend']}), separately: {figs['cpu_s_per_audio_s'] * 1000:.0f} CPU ms per audio-s of {figs['basis']} audio "
          f"({len(detected)} tracks, {audio_s:.0f} s); WER {figs['wer']} ==")
    return figs


def corpus_accuracy(wavs: list[Path], truth: dict, cfg, work: Path) -> dict:
    """Every tool and fused on all rendered pieces (annotation cached by content + MIR config)."""
    from musicflamingo.io import read_jsonl
    from musicflamingo.mir import evaluate
    from musicflamingo.mir.batch import annotate_to_dir, items_for

    mir = OmegaConf.to_container(cfg.mir, resolve=True) | {"asr": {**OmegaConf.to_container(cfg.mir.asr), "backend": "none"}}
    items, _ = items_for(wavs)
    annotate_to_dir(items, mir, work / "annotated", work / "facts", desc="annotate (no ASR)")
    preds = read_jsonl(work / "annotated/tracks.jsonl")
    result = evaluate.evaluate(truth, preds)
    print(f"\n== accuracy on all {result['tracks']} rendered pieces (benchmark soundfont) ==")
    print(evaluate.format_table(result))
    fused = result["systems"]["fused"]
    print("targets: " + ", ".join(f"{m} {fused.get(m)} {'>=' if (fused.get(m) or 0) >= v else '<'} {v}" for m, v in TARGETS.items()))
    tools = [t for t in result["systems"] if t != "fused"]
    for metric in GATED:
        best = max(((result["systems"].get(t, {}).get(metric) or 0.0, t) for t in tools), default=(0.0, "-"))
        verdict = "beats or ties" if (fused.get(metric) or 0) >= best[0] else "does NOT reach"
        print(f"fused vs best single tool on {metric}: {fused.get(metric)} vs {best[0]} ({best[1]}) -> {verdict}")
    tagger_report(truth, preds, evaluate)
    study = evaluate.fusion_study(truth, preds, mir, evaluate.fusion_variants(mir))
    print("\n== fusion re-run on the stored tool outputs (rendered): variants side by side ==")
    for v, r in study.items():
        print(f"  {v:28s} tempo Acc1 {r['tempo_acc1']}  Acc2 {r['tempo_acc2']} (n={r['tempo_n']})  key weighted {r['key_weighted']} (n={r['key_n']})  chord majmin {r['chord_majmin']} (n={r['chord_n']})")
    confidence_calibration(truth, preds, evaluate)
    return result


# (networks averaged, (num_tempi, min_bpm, max_bpm)) settings compared by --beat-ablation; the first is madmom's full ensemble.
BEAT_SETTINGS = [(8, (60, 40, 240)), (8, (60, 55, 215)), (8, (40, 50, 220)), (8, (30, 40, 240)), (2, (40, 50, 220)), (1, (40, 50, 220))]


def beat_ablation(wavs: list[Path], truth: dict) -> None:
    """madmom's downbeat RNN + DBN under several ensemble sizes and DBN tempo grids, one core:
    beat F and tempo Acc1 at the notated beat level, and x realtime of the networks and the DBN."""
    import numpy as np
    from madmom.audio.signal import Signal
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    from musicflamingo.mir import evaluate, tools

    rnn_full, _ = tools._downbeat_models((3, 4), 50.0, 220.0, 8, 40)
    pre, ensemble, _ = rnn_full.processors
    nets = ensemble.processors[0].processors  # the 8 BLSTMs, run one by one so subsets share the work
    dbns = {g: DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], min_bpm=g[1], max_bpm=g[2], num_tempi=g[0], fps=tools.MADMOM_FPS) for _, g in BEAT_SETTINGS}
    scores: dict = defaultdict(lambda: defaultdict(list))
    spent: dict = defaultdict(float)
    audio_s = 0.0
    for wav in tqdm(wavs, desc="beat ablation", unit="track"):
        t = truth[wav.parent.name]
        x = tools.load_mono(str(wav), 44100)
        audio_s += len(x) / 44100
        t0 = time.perf_counter()
        feats = pre(Signal(x, sample_rate=44100, num_channels=1))
        spent["input features"] += time.perf_counter() - t0
        outs = []
        for net in nets:
            t0 = time.perf_counter()
            outs.append(np.asarray(net(feats)))
            spent["one BLSTM"] += (time.perf_counter() - t0) / len(nets)
        for n, grid in BEAT_SETTINGS:
            act = np.delete(np.mean(outs[:n], axis=0), 0, axis=1)
            t0 = time.perf_counter()
            est = np.asarray(dbns[grid](act))
            spent[f"DBN {grid[0]} tempi {grid[1]}-{grid[2]} BPM"] += (time.perf_counter() - t0) / sum(1 for _, g in BEAT_SETTINGS if g == grid)
            beats = est[:, 0] if len(est) else np.zeros(0)
            bpm = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 2 else None
            scores[(n, grid)]["beat_f"].append(evaluate.beat_f(t["beats"], beats))
            scores[(n, grid)]["tempo_acc1"].append(evaluate.tempo_accuracy(evaluate.truth_tempo(t), bpm)[0])
    print(f"\n== beat ablation on {len(wavs)} tracks ({audio_s:.0f} s): madmom downbeat ensemble size x DBN tempo grid ==")
    for (n, grid), m in scores.items():
        print(f"{n} networks, DBN {grid[0]} tempi {grid[1]}-{grid[2]} BPM: beat F {np.nanmean(m['beat_f']):.3f}  tempo Acc1 {np.mean(m['tempo_acc1']):.3f}")
    print("x realtime on one core: " + ", ".join(f"{k} {audio_s / v:.1f}" for k, v in spent.items() if v > 0))


if __name__ == "__main__":
    main()
