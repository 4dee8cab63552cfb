"""Evaluation throughput: 200 held-out-style MCQ items with the tiny model on the CPU.

Prints the wall time for 200 items (target: <= 120 s on 2 cores), items/s,
and the time of a second pass, which must come entirely from the per-item
cache. Run: `.venv/bin/python benchmarks/eval_benchmark.py [--items 200]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3, help="timed passes with an empty cache (median reported)")
    args = ap.parse_args()

    from musicflamingo.evaluation.predict import Predictor, Request
    from musicflamingo.io import read_jsonl
    from musicflamingo.model import build as mb
    from musicflamingo.model import inputs as mi
    from musicflamingo.testing.fixtures import write_fixture

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_fixture(tmp, n_tracks=8, seconds=30.0)
        mb.build_tiny(OmegaConf.load(ROOT / "conf/model/tiny.yaml"), tmp / "models/backbone", seed=0)
        pool = [r for r in read_jsonl(paths["train"]) + read_jsonl(paths["heldout"]) if r["task"] == "mcq"]
        requests = [Request(f"{i}", mi.human_turn(pool[i % len(pool)]) + f"\n(item {i})", pool[i % len(pool)]["sound"]) for i in range(args.items)]
        times = []
        for rep in range(args.repeats):
            p = Predictor(tmp / "models/backbone", tmp, 30.0, args.max_new_tokens, args.batch_size, tmp / f"cache{rep}")
            t0 = time.perf_counter()
            p(requests)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        again = p(requests)
        cached_s = time.perf_counter() - t0
        assert all(x.cached for x in again)
    med = statistics.median(times)
    print(f"eval of {args.items} items (tiny model, 30 s audio each, greedy, batch {args.batch_size}, <= {args.max_new_tokens} new tokens)")
    print(f"  wall time, median of {args.repeats}: {med:.1f} s   (target <= 120 s)   runs: {', '.join(f'{t:.1f}' for t in times)}")
    print(f"  throughput: {args.items / med:.2f} items/s")
    print(f"  second pass from the per-item cache: {cached_s:.2f} s  (ratio to first: {cached_s / med:.3f})")


if __name__ == "__main__":
    main()
