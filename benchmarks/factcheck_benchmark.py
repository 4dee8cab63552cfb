"""Issue-14 figures: no lie gets through the claim filter, and a dead LLM fails the stage fast.

Prints
1. the adversarial corpus (`musicflamingo.testing.adversarial`, written
   independently of the built-in writer): false statements released, of at
   least 2,000, by kind (target: 0), and true statements in the same frames
   wrongly withheld (target: <= 2 %);
2. an end-to-end run of `mf_skills` and `mf_think` against the lying
   OpenAI-compatible server on 127.0.0.1 (`musicflamingo.testing.lying_server`):
   every planted lie is grepped in the released rows (target: 0 found);
3. a dead endpoint with default `llm=openai` settings: seconds until
   `mf_skills` fails, and its error (target: <= 120 s), for a closed port,
   a server that only answers HTTP 500, one that answers prose, one that
   accepts connections and never answers, and one that trickles a byte every 2 s.

Facts are synthetic tracks (`testing.synthetic`: every MIR-contract field).
Run: `.venv/bin/python benchmarks/factcheck_benchmark.py [--tracks 120] [--e2e-tracks 24] [--skip-dead] [--corpus ROOT]`.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _real_tracks(corpus: Path | None) -> list[tuple[dict, dict]]:
    """(facts, tags) of a built project's tracks (`<corpus>/data/{mir_metadata,raw_audio}/tracks.jsonl`), or []."""
    if corpus is None:
        return []
    from musicflamingo.io import read_jsonl

    tags = {r["id"]: r.get("tags") or {} for r in read_jsonl(corpus / "data/raw_audio/tracks.jsonl")}
    return [(f, tags.get(f["track_id"], {})) for f in read_jsonl(corpus / "data/mir_metadata/tracks.jsonl")]


def adversarial(n_tracks: int, corpus: Path | None = None) -> None:
    from musicflamingo.data import factcheck as fc
    from musicflamingo.testing.synthetic import synthetic_track
    from musicflamingo.testing.adversarial import statements

    false_n, false_rel, true_n, true_drop = Counter(), Counter(), Counter(), Counter()
    examples: list[str] = []
    tracks = _real_tracks(corpus) or [synthetic_track(seed) for seed in range(n_tracks)]
    for seed, (facts, tags) in enumerate(tracks):
        fx = fc.FactIndex.build(facts, tags)
        for st in statements(facts, tags, random.Random(seed)):
            kept, withheld = fc.release(st.text, fx)
            carrier = fc.sentences(st.text)[-1]  # the sentence that states the claim
            if st.true:
                true_n[st.kind] += 1
                true_drop[st.kind] += bool(withheld)
                if withheld and len(examples) < 5:
                    examples.append(f"  wrongly withheld: {st.text!r}")
            else:
                false_n[st.kind] += 1
                released = carrier in kept
                false_rel[st.kind] += released
                if released and len(examples) < 10:
                    examples.append(f"  released lie: {st.text!r} (instruments {tags.get('instruments')}, key {facts['key']})")
    print(f"\n1. Adversarial corpus ({len(tracks)} {'tracks of ' + str(corpus) if corpus else 'synthetic tracks'})")
    print(f"   {'kind':<24}{'false':>7}{'released':>10}{'true':>7}{'withheld':>10}")
    for kind in sorted(set(false_n) | set(true_n)):
        print(f"   {kind:<24}{false_n[kind]:>7}{false_rel[kind]:>10}{true_n[kind]:>7}{true_drop[kind]:>10}")
    fn, fr, tn, td = sum(false_n.values()), sum(false_rel.values()), sum(true_n.values()), sum(true_drop.values())
    print(f"   false statements released: {fr} of {fn} ({fr / fn:.2%})")
    print(f"   true statements wrongly withheld: {td} of {tn} ({td / max(tn, 1):.2%})")
    print("\n".join(examples))
    # For scale: the built-in writer's own text, checked as strictly as model text (its counts have no checker).
    from musicflamingo.data import builtin_writer as bw

    n_sent = n_held = 0
    for seed in range(min(n_tracks, 40)):  # synthetic tracks: every field the writer can state
        facts, tags = synthetic_track(seed)
        fx, rng = fc.FactIndex.build(facts, tags), random.Random(seed)
        for text in [bw.caption(facts, tags, rng)] + [f"{it['question']} {it['answer']}" for it in bw.qa_items(facts, tags, rng)]:
            n_sent += len(fc.sentences(text))
            n_held += len(fc.release(text, fx)[1])
    print(f"   built-in writer text checked as strictly as model text: {n_held} of {n_sent} sentences withheld "
          f"({n_held / max(n_sent, 1):.1%}; the stages check it with strict=False: its numbers are computed from the facts)")


def end_to_end(n_tracks: int, corpus: Path | None = None) -> None:
    from musicflamingo.config import compose
    from musicflamingo.io import read_jsonl
    from musicflamingo.stage import run_stage
    from musicflamingo.testing.corpus import write_corpus
    from musicflamingo.testing.lying_server import LyingServer

    root = Path(tempfile.mkdtemp(prefix="mf-liar-"))
    if corpus is None:
        write_corpus(root, n_tracks)
    else:  # a built project's facts (read only: copied here)
        import shutil

        for part in ("mir_metadata", "raw_audio"):
            (root / "data" / part).mkdir(parents=True)
            shutil.copy(corpus / "data" / part / "tracks.jsonl", root / "data" / part / "tracks.jsonl")
        n_tracks = sum(1 for _ in open(root / "data/mir_metadata/tracks.jsonl"))
    with LyingServer(max_seconds=600) as srv:
        cfg = compose(["llm=openai", f"llm.base_url={srv.url}", "llm.model=liar", "skills.min_heldout_tracks=1", "think.fraction=1.0"])
        skills = run_stage("mf_skills", cfg, root)
        think = run_stage("mf_think", cfg, root)
    released = {name: read_jsonl(root / f"data/{name}") for name in ("mf_skills/train.jsonl", "mf_skills/heldout.jsonl", "mf_think/train.jsonl")}
    blob = "\n".join(json.dumps(r, ensure_ascii=False) for rows in released.values() for r in rows)
    found = [(kind, text) for kind, text in srv.planted if json.dumps(text, ensure_ascii=False)[1:-1] in blob]
    by_kind = Counter(kind for kind, _ in srv.planted)
    print(f"\n2. End to end against the lying server ({n_tracks} tracks, {srv.requests} requests)")
    print(f"   released rows: mf_skills {skills['train_items'] + skills['heldout_items']} "
          f"(dropped {skills['dropped_by_factcheck']}, repaired {skills['repaired_by_factcheck']}), mf_think {think['samples']} "
          f"(steps removed {think['steps_removed']}, rewritten {think['steps_rewritten']})")
    print(f"   planted lies: {len(srv.planted)} ({', '.join(f'{k} {v}' for k, v in sorted(by_kind.items()))})")
    print(f"   planted lies found in released rows: {len(found)}")
    for kind, text in found[:10]:
        print(f"     {kind}: {text!r}")


class _Server:
    """A dead-ish endpoint: `mode` 500 (HTTP 500 always), prose (200 without JSON), hang (accepts, never answers)
    or trickle (headers, then a byte every 2 s)."""

    def __init__(self, mode: str, max_seconds: float = 300):
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if mode == "hang":
                    stop.wait(max_seconds)  # bounded: released when the benchmark stops the server
                    return
                if mode == "trickle":  # headers at once, then one byte every 2 s (bounded by max_seconds)
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(int(max_seconds / 2)):
                            if stop.wait(2.0):
                                break
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    except OSError:
                        pass
                    return
                body = (json.dumps({"choices": [{"message": {"content": "Sure! A lovely song."}, "finish_reason": "stop"}]})
                        if mode == "prose" else '{"error": "internal"}').encode()
                self.send_response(200 if mode == "prose" else 500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def dead_endpoint(n_tracks: int) -> None:
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage
    from musicflamingo.testing.corpus import write_corpus

    print(f"\n3. Dead endpoint, default llm=openai settings ({n_tracks} tracks; target <= 120 s)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    for label, mode in (("closed port", None), ("HTTP 500 only", "500"), ("prose only", "prose"), ("accepts, never answers", "hang"),
                        ("a byte every 2 s", "trickle")):
        srv = _Server(mode) if mode else None
        root = Path(tempfile.mkdtemp(prefix="mf-dead-"))
        write_corpus(root, n_tracks)
        cfg = compose(["llm=openai", f"llm.base_url={srv.url if srv else closed}", "llm.model=m", "skills.min_heldout_tracks=1"])
        t0 = time.perf_counter()
        try:
            run_stage("mf_skills", cfg, root)
            outcome = "stage succeeded (unexpected)"
        except Exception as exc:  # the figure is the time to a clear error, whatever its class
            outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
        finally:
            if srv:
                srv.close()
        print(f"   {label:<24}{time.perf_counter() - t0:7.1f} s  {outcome}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=120, help="synthetic tracks for the adversarial corpus")
    ap.add_argument("--e2e-tracks", type=int, default=24)
    ap.add_argument("--skip-dead", action="store_true")
    ap.add_argument("--corpus", type=Path, help="a built project root: its MIR facts and tags instead of synthetic tracks (parts 1, 2)")
    args = ap.parse_args()
    adversarial(args.tracks, args.corpus)
    end_to_end(args.e2e_tracks, args.corpus)
    if not args.skip_dead:
        dead_endpoint(args.e2e_tracks)


if __name__ == "__main__":
    main()
