"""`musicflamingo mir annotate|evaluate`: the MIR engine on any folder of audio, and its audit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _annotate(args) -> int:
    from omegaconf import OmegaConf

    from musicflamingo.audio.inputs import InputError, collect
    from musicflamingo.config import compose
    from musicflamingo.io import OutputError, check_writable, read_jsonl
    from musicflamingo.mir.annotate import Interrupted
    from musicflamingo.mir.batch import annotate_to_dir, items_for

    if args.jobs < 0:
        print(f"musicflamingo mir annotate: -j/--jobs must be 0 (all cores) or more, got {args.jobs}", file=sys.stderr)
        return 2
    try:
        mir = OmegaConf.to_container(compose(args.overrides).mir, resolve=True)
    except Exception as e:  # a misspelt --set key: Hydra's message, on one line
        print(f"musicflamingo mir annotate: bad --set override: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / ".cache"
    try:
        check_writable(out)  # before hashing or probing a single file
        check_writable(cache)
        found, bad = collect(Path(args.source), stage="mir_metadata")
        items, rows = items_for(found, mir)
        summary = annotate_to_dir(items, mir, out, cache, jobs=args.jobs, pre_quarantine=bad + rows)
    except (InputError, OutputError, Interrupted) as e:
        print(f"musicflamingo mir annotate: {e}", file=sys.stderr)
        return 130 if isinstance(e, Interrupted) else 2
    summary["inputs"] = len(found) + len(bad)
    print(json.dumps(summary, indent=2))
    for q in read_jsonl(out / "quarantine.jsonl"):
        print(f"quarantined {json.dumps(q['path'], ensure_ascii=False)}: {q['reason']}", file=sys.stderr)  # quoted: a newline in a name cannot forge a line
    return 0


def _evaluate(args) -> int:
    from musicflamingo.mir.evaluate import evaluate_files, format_table

    result = evaluate_files(Path(args.truth), Path(args.pred))
    print(format_table(result))
    if args.json:
        from musicflamingo.io import write_json

        write_json(Path(args.json), result)
    return 0 if result["tracks"] else 1


def add_commands(sub) -> None:
    """Register `mir annotate` and `mir evaluate` on the top-level subparsers."""
    m = sub.add_parser("mir", help="the MIR engine: annotate audio, evaluate facts against ground truth")
    msub = m.add_subparsers(dest="mir_command", required=True)

    a = msub.add_parser(
        "annotate",
        help="MIR facts for a folder or manifest of audio -> <out>/tracks.jsonl + quarantine.jsonl",
        description="Runs madmom, essentia and Chordino (+ ASR on sung tracks), fuses them, and writes one MirFacts "
        "object per track. Cached per file content + MIR config: rerunning (also after a kill) redoes only unfinished tracks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    a.add_argument("source", help="an audio file, a folder (walked recursively, symlinked folders too) or a manifest (.jsonl with `path`, or one path per line)")
    a.add_argument("--out", required=True, help="output folder")
    a.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (0 = all cores)")
    a.add_argument("--cache", default=None, help="cache folder (default: <out>/.cache)")
    a.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="Hydra override of conf/, repeatable, e.g. --set mir.asr.backend=none")
    a.set_defaults(func=_annotate)

    e = msub.add_parser(
        "evaluate",
        help="score tracks.jsonl against ground-truth sidecars: every tool alone and fused, side by side",
        description="tempo Acc1/Acc2, beat and downbeat F (mir_eval), key MIREX weighted score, chord majmin/mirex WCSR, "
        "vocal detection accuracy and lyrics WER (jiwer).",
    )
    e.add_argument("--truth", required=True, help="a sidecar .json or a folder of them (data/raw_audio/truth)")
    e.add_argument("--pred", required=True, help="tracks.jsonl written by `mir annotate` or the mir_metadata stage")
    e.add_argument("--json", default=None, help="also write the scores to this JSON file")
    e.set_defaults(func=_evaluate)
