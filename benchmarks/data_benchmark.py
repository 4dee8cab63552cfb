"""MF-Skills data figures: built-in writer + fact checker throughput, and the checker's rejection rates.

Prints
- throughput: tracks/s on one core for the built-in writer (surface captions,
  rich caption, five-skill QA) plus the claim-level check of everything it
  wrote (target: >= 50 tracks/s per core); median of `--repeats` passes;
- the writer's contradicted claims over the demo corpus (target: 0) and its
  mean caption length (target: >= 250 words);
- rejection rates: the share of deliberately false items the checker rejects
  (target: >= 95 %) and of true items it rejects (target: <= 2 %), per error
  kind, on the synthetic corpus (every MIR-contract field) and on the demo corpus.

Run: `.venv/bin/python benchmarks/data_benchmark.py [--tracks 200] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _demo_tracks() -> list[tuple[dict, dict, str]]:
    facts_path, tracks_path = ROOT / "data/mir_metadata/tracks.jsonl", ROOT / "data/raw_audio/tracks.jsonl"
    if not facts_path.exists():
        return []
    tags = {json.loads(line)["id"]: json.loads(line).get("tags", {}) for line in tracks_path.open()}
    return [(f, tags.get(f["track_id"], {}), f["track_id"]) for f in map(json.loads, facts_path.open())]


def write_and_check(facts: dict, tags: dict, seed) -> tuple[int, int, list[str]]:
    """One track through the built-in writer and the checker: (claims, contradicted claims, texts)."""
    from musicflamingo.data import builtin_writer as bw
    from musicflamingo.data import factcheck as fc

    rng = random.Random(seed)
    fx = fc.FactIndex.build(facts, tags)
    surface = [bw.surface_caption(s, facts, tags, rng) for s in facts.get("segments") or [] if s["end_s"] - s["start_s"] >= 5]
    texts = [bw.caption(facts, tags, rng, surface)] + [f"{it['question']} {it['answer']}" for it in bw.qa_items(facts, tags, rng)]
    verdicts = [v for t in texts for v in fc.check_text(t, fx)]
    return len(verdicts), sum(v.verdict == "contradicted" for v in verdicts), texts


def rates(tracks) -> tuple[float, float, int, int, Counter, Counter]:
    from musicflamingo.data import factcheck as fc
    from musicflamingo.testing import falsify

    true_n = true_rej = 0
    tot, rej = Counter(), Counter()
    for facts, tags, seed in tracks:
        rng = random.Random(f"false-{seed}")
        fx = fc.FactIndex.build(facts, tags)
        _, _, texts = write_and_check(facts, tags, seed)
        variants = []
        for text in texts:
            true_n += 1
            true_rej += bool(fc.contradicted(fc.check_text(text, fx)))
            variants += falsify.false_variants(text, facts, tags, rng)
        variants += [(f"free:{k}", t) for k, t in falsify.free_false_sentences(facts, tags, rng)]
        for kind, text in variants:
            tot[kind] += 1
            rej[kind] += bool(fc.contradicted(fc.check_text(text, fx)))
    return true_rej / max(true_n, 1), sum(rej.values()) / max(sum(tot.values()), 1), true_n, sum(tot.values()), tot, rej


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=200, help="synthetic tracks for the throughput passes")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes (median reported)")
    ap.add_argument("--rate-tracks", type=int, default=100, help="synthetic tracks for the rejection rates")
    args = ap.parse_args()

    from musicflamingo.testing.synthetic import synthetic_track

    synth = [(*synthetic_track(s), s) for s in range(args.tracks)]
    demo = _demo_tracks()
    for facts, tags, seed in synth[:5]:  # warm the regex and template caches
        write_and_check(facts, tags, seed)
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for facts, tags, seed in synth:
            write_and_check(facts, tags, seed)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    # Per core = tracks per CPU-second of this single-threaded process (wall time also printed: the machine is shared).
    print(f"throughput (synthetic, {args.tracks} tracks, 1 thread): median {args.tracks / statistics.median(cpu):.1f} tracks per CPU-second "
          f"(target >= 50); wall median {args.tracks / statistics.median(times):.1f} tracks/s "
          f"(passes: {', '.join(f'{args.tracks / t:.1f}' for t in times)})")
    if demo:
        t0 = time.perf_counter()
        results = [write_and_check(f, t, s) for f, t, s in demo]
        dt = time.perf_counter() - t0
        from musicflamingo.data import builtin_writer as bw

        words = [len(bw.caption(f, t, random.Random(s)).split()) for f, t, s in demo]
        print(f"throughput (demo corpus, {len(demo)} tracks, 1 core): {len(demo) / dt:.1f} tracks/s")
        print(f"demo corpus: {sum(r[0] for r in results)} claims checked, {sum(r[1] for r in results)} contradicted (target 0); "
              f"mean caption words {statistics.mean(words):.1f}, median {statistics.median(words):.0f}, min {min(words)} (target mean >= 250)")
    for name, tracks in (("synthetic", synth[: args.rate_tracks]), ("demo", demo)):
        if not tracks:
            continue
        true_rate, false_rate, n_true, n_false, tot, rej = rates(tracks)
        print(f"rejection rates ({name}, {len(tracks)} tracks): false items rejected {false_rate:.2%} of {n_false} (target >= 95%), "
              f"true items rejected {true_rate:.2%} of {n_true} (target <= 2%)")
        print("  per error kind: " + ", ".join(f"{k} {rej[k]}/{tot[k]}" for k in sorted(tot)))


if __name__ == "__main__":
    main()
