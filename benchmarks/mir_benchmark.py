"""MIR engine benchmark: accuracy per tool and fused, and throughput.

1. Renders the whole demo corpus (`data=benchmark`: `corpus_size` pieces) with
   the *benchmark* soundfont (FluidR3), not the development one (cached).
2. Annotates it without ASR (cached by content + MIR config) and prints the
   `mir evaluate` table: every tool alone and fused, side by side, with the
   issue's targets; then every track whose fused tempo, key or beats are
   wrong (truth vs prediction, meter, source), and the key score against
   music21's analysis alone as well as the sidecar's finalis-rule key.
   Then: the musicnn tagger against each piece's General MIDI family (family
   named, precision of asserted families); the fusion variants re-run on the
   stored tool outputs (`mir.evaluate.fusion_study`: with/without basic-pitch's
   note evidence, tempo from madmom alone, chord votes); and the share of fused
   tempo / key / meter facts that are right at or above each confidence (what
   conf/skills `confidence:` is set from).
3. Throughput: a fresh, uncached annotation of `--timing-tracks` tracks for
   each `-j` in `--jobs`: realtime factor per core (audio s / (wall s x jobs))
   in total, and per tool (audio s / the tool's own seconds, one core each).
4. ASR separately: pocketsphinx on the sung tracks, realtime factor and WER.

Run: `.venv/bin/python benchmarks/mir_benchmark.py [--pieces N] [--jobs 1,2] [--timing-tracks 12]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from omegaconf import OmegaConf
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"tempo_acc1": 0.90, "tempo_acc2": 0.98, "key_weighted": 0.95, "chord_majmin": 0.65, "beat_f": 0.90}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", type=int, default=0, help="pieces to render and score (0 = the whole corpus, data.demo.corpus_size)")
    ap.add_argument("--jobs", default="1,2", help="worker counts for the throughput runs")
    ap.add_argument("--timing-tracks", type=int, default=12, help="tracks in each uncached throughput run")
    ap.add_argument("--asr-tracks", type=int, default=6, help="sung tracks transcribed for the ASR figures (0 = skip)")
    ap.add_argument("--beat-ablation", type=int, default=0, metavar="N",
                    help="also measure madmom's downbeat ensemble size and DBN tempo grid on N tracks: beat F, tempo Acc1 and x realtime per setting")
    ap.add_argument("--annotate-jobs", type=int, default=0, help="workers for the (cached) accuracy annotation (0 = all cores)")
    ap.add_argument("--workdir", default=str(ROOT / ".cache/mir_benchmark"), help="render + annotation cache")
    ap.add_argument("--json", default=None, help="also write all figures to this file")
    args = ap.parse_args()

    from musicflamingo.audio import demo_corpus
    from musicflamingo.config import compose
    from musicflamingo.io import write_json
    from musicflamingo.mir import asr, evaluate
    from musicflamingo.mir.batch import annotate_to_dir, items_for

    cfg = compose(["data=benchmark"])
    demo = OmegaConf.to_container(cfg.data.demo, resolve=True)
    mir = OmegaConf.to_container(cfg.mir, resolve=True) | {"asr": {**OmegaConf.to_container(cfg.mir.asr), "backend": "none"}}
    work = Path(args.workdir)
    count = args.pieces or int(demo["corpus_size"])

    wavs, truth = [], {}
    for wav, t in demo_corpus.render_corpus(demo, cfg.seed, work / "renders", count, desc=f"render {count} pieces ({Path(demo['soundfont']).name})"):
        if wav is not None:
            wavs.append(wav)
            truth[t["piece_id"]] = t
    print(f"\ncorpus: {len(wavs)} pieces, {sum(t['vocals'] for t in truth.values())} sung, soundfont {demo['soundfont']}")

    items, _ = items_for(wavs)
    annotate_to_dir(items, mir, work / "annotated", work / "facts", jobs=args.annotate_jobs, desc="annotate (no ASR)")
    from musicflamingo.io import read_jsonl

    preds = read_jsonl(work / "annotated/tracks.jsonl")
    result = evaluate.evaluate(truth, preds)
    print("\n== accuracy (benchmark soundfont) ==")
    print(evaluate.format_table(result))
    fused = result["systems"]["fused"]
    wrong = evaluate.track_errors(truth, preds)
    print(f"\n== tracks with a wrong fused tempo, key or beat F < 0.8 ({len(wrong)} of {result['tracks']}): truth vs fused ==")
    for w in wrong:
        print(f"{w['piece'][:40]:40s} {str(w['meter']):5s} tempo {w['tempo']}  beat F {w['beat_f']}  key {w['key']}  [{w['source']}]")
    if "key_weighted_analysis" in fused:
        print(f"key weighted against music21's analysis alone (no finalis rule): fused {fused['key_weighted_analysis']}, "
              + ", ".join(f"{t} {result['systems'].get(t, {}).get('key_weighted_analysis')}" for t in evaluate.KEY_TOOLS))
    print("\ntargets: " + ", ".join(f"{m} {fused.get(m)} {'>=' if (fused.get(m) or 0) >= v else '<'} {v}" for m, v in TARGETS.items()))
    for metric, tools in (("tempo_acc1", evaluate.TEMPO_TOOLS), ("key_weighted", evaluate.KEY_TOOLS), ("chord_majmin", evaluate.CHORD_TOOLS)):
        best = max(((result["systems"].get(t, {}).get(metric) or 0.0, t) for t in tools), default=(0.0, "-"))
        print(f"fused vs best single tool on {metric}: {fused.get(metric)} vs {best[0]} ({best[1]}) -> {'beats' if (fused.get(metric) or 0) > best[0] else 'does NOT beat'}")

    tagger_figs = tagger_report(truth, preds, evaluate)
    study = evaluate.fusion_study(truth, preds, mir, evaluate.fusion_variants(mir))
    print("\n== fusion re-run on the stored tool outputs (rendered): variants side by side ==")
    for v, r in study.items():
        print(f"  {v:28s} tempo Acc1 {r['tempo_acc1']}  Acc2 {r['tempo_acc2']} (n={r['tempo_n']})  key weighted {r['key_weighted']} (n={r['key_n']})  chord majmin {r['chord_majmin']} (n={r['chord_n']})")
    bands = confidence_calibration(truth, preds, evaluate)

    if args.beat_ablation:
        beat_ablation(wavs[: args.beat_ablation], truth)

    # Throughput: fresh caches, the same tracks, several -j.
    speed = {}
    subset = items[: args.timing_tracks]
    for jobs in [int(j) for j in args.jobs.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            annotate_to_dir([type(it)(it.track_id, it.path, it.rel_path, 0.0) for it in subset], mir, Path(tmp) / "out", Path(tmp) / "cache", jobs=jobs, desc=f"throughput -j {jobs}")
            wall = time.perf_counter() - t0
            rows = read_jsonl(Path(tmp) / "out/tracks.jsonl")
        audio = sum(r["duration_s"] for r in rows)
        per_tool = defaultdict(float)
        for r in rows:
            for tool, s in r["timings_s"].items():
                per_tool[tool] += s
        speed[jobs] = {"audio_s": round(audio, 1), "wall_s": round(wall, 1), "x_realtime": round(audio / wall, 2), "x_realtime_per_core": round(audio / wall / jobs, 2),
                       "per_tool_x_realtime": {t: round(audio / s, 1) for t, s in per_tool.items() if s > 0}, "compute_x_realtime_per_core": round(audio / sum(per_tool.values()), 2)}
        print(f"\n== throughput -j {jobs}: {audio:.0f} s of audio in {wall:.1f} s wall -> {audio / wall:.1f}x realtime, {audio / wall / jobs:.1f}x per core "
              f"(inside the workers: {speed[jobs]['compute_x_realtime_per_core']}x per core)")
        spent = sum(per_tool.values())
        print("   per tool (x realtime on one core, share of the time): " + ", ".join(
            f"{t} {v} ({100 * per_tool[t] / spent:.0f} %)" for t, v in sorted(speed[jobs]["per_tool_x_realtime"].items(), key=lambda kv: kv[1])))

    asr_figs = {}
    sung = [(w, truth[w.parent.name]) for w in wavs if truth[w.parent.name]["vocals"]][: args.asr_tracks]
    if sung:
        import jiwer

        from musicflamingo.mir import tools

        times, audio_s, refs, hyps = [], 0.0, [], []
        for wav, t in sung:
            x = tools.load_mono(str(wav), asr.ASR_SR)
            t0 = time.perf_counter()
            words = asr.transcribe(x, asr.ASR_SR, OmegaConf.to_container(cfg.mir.asr))
            times.append(time.perf_counter() - t0)
            audio_s += len(x) / asr.ASR_SR
            refs.append(t["lyrics"])
            hyps.append(" ".join(w for *_, w in words))
        english = [i for i, (_, t) in enumerate(sung) if t["voice"].startswith("en")]
        asr_figs = {"backend": cfg.mir.asr.backend, "tracks": len(sung), "audio_s": round(audio_s, 1), "x_realtime": round(audio_s / sum(times), 2),
                    "median_s_per_track": round(statistics.median(times), 2), "wer": round(jiwer.wer(refs, hyps), 3),
                    "wer_english": round(jiwer.wer([refs[i] for i in english], [hyps[i] for i in english]), 3) if english else None}
        print(f"\n== ASR ({asr_figs['backend']}) on {len(sung)} sung tracks: {asr_figs['x_realtime']}x realtime on one core, WER {asr_figs['wer']} "
              f"(English-voiced only: {asr_figs['wer_english']}; the other voices sing German/Italian to an English model)")
    if args.json:
        write_json(Path(args.json), {"accuracy": result, "throughput": speed, "asr": asr_figs})
    print(json.dumps({"fused": fused, "throughput": {j: {k: v for k, v in s.items() if k != "per_tool_x_realtime"} for j, s in speed.items()}, "asr": asr_figs}, indent=1))


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
