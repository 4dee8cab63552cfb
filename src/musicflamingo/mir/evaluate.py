"""Score MIR facts against ground-truth sidecars with mir_eval and jiwer:
every tool alone and the fused facts, side by side.

Metrics (means over tracks unless noted):
- tempo Acc1 (within 4 %) and Acc2 (also x2, x1/2, x3, x1/3), against the
  tempo of the notated beat (`beat_bpm`: the time signature's beat unit, a
  dotted quarter in 6/8, a half note in 2/2), the same level as the beat
  truth; sidecars without `beat_bpm` fall back to the quarter-note `tempo_bpm`;
- beat F-measure and downbeat F-measure (mir_eval, 70 ms window, first 5 s trimmed);
- key: MIREX weighted score (mir_eval.key) against the sidecar's `key`, and
  (`key_weighted_analysis`) against `key_analysis`, music21's analysis alone;
- chords: majmin and mirex, as WCSR (duration-weighted over all tracks);
- vocals: detection accuracy; lyrics: WER (jiwer) over the sung tracks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musicflamingo.io import read_jsonl

TEMPO_TOOLS = ("madmom", "essentia")
BEAT_TOOLS = ("madmom", "essentia")
KEY_TOOLS = ("madmom_key", "chroma_key", "essentia_bgate", "essentia_temperley", "essentia_krumhansl", "essentia_edma", "basic_pitch_key")
CHORD_TOOLS = ("chordino", "madmom_chords", "madmom_deepchroma", "basic_pitch")


def load_truth(path: Path) -> dict[str, dict]:
    """A sidecar file or a folder of them, keyed by piece id."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    out = {}
    for f in files:
        t = json.loads(f.read_text())
        out[t.get("piece_id", f.stem)] = t
    return out


def _piece_id(pred_path: str, truth: dict) -> str | None:
    p = Path(pred_path)
    for cand in (p.stem, p.parent.name):
        if cand in truth:
            return cand
    return None


def truth_tempo(t: dict) -> float:
    """The reference tempo: the notated beat's BPM (the level the beat truth is at)."""
    return float(t.get("beat_bpm") or t["tempo_bpm"])


def tempo_accuracy(ref: float, est: float | None) -> tuple[float, float]:
    if not est:
        return 0.0, 0.0
    ok = lambda r: abs(est - ref * r) <= 0.04 * ref * r  # noqa: E731
    return float(ok(1.0)), float(any(ok(r) for r in (1.0, 2.0, 0.5, 3.0, 1 / 3)))


def beat_f(ref: list[float], est: list[float]) -> float:
    import mir_eval

    r, e = mir_eval.beat.trim_beats(np.asarray(ref, float)), mir_eval.beat.trim_beats(np.asarray(est, float))
    if len(r) == 0:
        return float("nan")
    return float(mir_eval.beat.f_measure(r, e))


def key_score(ref: str, est: str | None) -> float:
    import mir_eval

    return float(mir_eval.key.weighted_score(ref, est)) if est else 0.0


def chord_scores(ref: list[list], est: list[list]) -> dict[str, tuple[float, float]]:
    """{metric: (correct seconds, scored seconds)} for majmin and mirex."""
    import mir_eval

    if not ref or not est:
        return {"majmin": (0.0, 0.0), "mirex": (0.0, 0.0)}
    ri = np.array([[s, e] for s, e, _ in ref])
    rl = [lab for *_, lab in ref]
    ei = np.array([[s, e] for s, e, _ in est])
    el = [lab for *_, lab in est]
    ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    intervals, r, e = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
    dur = mir_eval.util.intervals_to_durations(intervals)
    out = {}
    for name, fn in (("majmin", mir_eval.chord.majmin), ("mirex", mir_eval.chord.mirex)):
        comp = fn(r, e)
        keep = comp >= 0
        out[name] = (float((comp[keep] * dur[keep]).sum()), float(dur[keep].sum()))
    return out


def evaluate(truth: dict[str, dict], preds: list[dict]) -> dict:
    """Per system (each tool and `fused`): {metric: value}; plus counts."""
    import jiwer

    acc: dict[str, dict[str, list]] = {}
    add = lambda system, metric, v: acc.setdefault(system, {}).setdefault(metric, []).append(v)  # noqa: E731
    matched = 0
    lyr_ref, lyr_hyp = [], []
    for p in preds:
        pid = _piece_id(p["path"], truth)
        if pid is None:
            continue
        t = truth[pid]
        matched += 1
        per = p.get("per_tool", {})
        for name, est in [("fused", p["tempo_bpm"]), *[(k, per[k]["tempo_bpm"]) for k in TEMPO_TOOLS if k in per and "tempo_bpm" in per[k]]]:
            a1, a2 = tempo_accuracy(truth_tempo(t), est)
            add(name, "tempo_acc1", a1)
            add(name, "tempo_acc2", a2)
        if t.get("beats"):
            for name, est in [("fused", p["beats"]), *[(k, per[k]["beats"]) for k in BEAT_TOOLS if k in per and "beats" in per[k]]]:
                add(name, "beat_f", beat_f(t["beats"], est))
        if t.get("downbeats"):
            for name, est in [("fused", p["downbeats"]), *([("madmom", per["madmom"]["downbeats"])] if "madmom" in per else [])]:
                add(name, "downbeat_f", beat_f(t["downbeats"], est))
        for name, est in [("fused", p["key"]), *[(k, per[k].get("key")) for k in KEY_TOOLS if k in per]]:
            add(name, "key_weighted", key_score(t["key"], est))
            if t.get("key_analysis"):  # the same, against music21's analysis alone (no finalis rule)
                add(name, "key_weighted_analysis", key_score(t["key_analysis"], est))
        for name, est in [("fused", p["chords"]), *[(k, per[k]["chords"]) for k in CHORD_TOOLS if k in per]]:
            for metric, (c, d) in chord_scores(t["chords"], est).items():
                add(name, f"chord_{metric}", (c, d))
        _add_oracle(add, t, per)
        if "vocals" in p:
            add("fused", "vocals_acc", float(bool(p["vocals"]) == bool(t.get("vocals"))))
        if t.get("vocals") and p.get("tools", {}).get("asr", "none") != "none":  # no ASR ran: no WER to report
            lyr_ref.append(t["lyrics"])
            lyr_hyp.append(p.get("lyrics", ""))
    table: dict[str, dict] = {}
    for system, metrics in acc.items():
        row = {}
        for m, vals in metrics.items():
            if m.startswith("chord_"):
                c, d = np.sum([v[0] for v in vals]), np.sum([v[1] for v in vals])
                row[m] = round(float(c / d), 4) if d else None
            else:
                v = np.array(vals, float)
                row[m] = round(float(np.nanmean(v)), 4) if np.isfinite(v).any() else None
        table[system] = row
    if lyr_ref:
        table.setdefault("fused", {})["lyrics_wer"] = round(float(jiwer.wer(lyr_ref, [h or "" for h in lyr_hyp])), 4)
    return {"tracks": matched, "sung_tracks": len(lyr_ref), "systems": table}


def _add_oracle(add, t: dict, per: dict) -> None:
    """`oracle`: per track, the best single tool's estimate. It bounds what any
    fusion that selects among the tools' answers can reach (ours also votes
    and re-scales, so it can exceed it, but rarely does)."""
    tempos = [per[k]["tempo_bpm"] for k in TEMPO_TOOLS if per.get(k, {}).get("tempo_bpm")]
    if tempos:
        scores = [tempo_accuracy(truth_tempo(t), e) for e in tempos]
        add("oracle", "tempo_acc1", max(a for a, _ in scores))
        add("oracle", "tempo_acc2", max(b for _, b in scores))
    beats = [per[k]["beats"] for k in BEAT_TOOLS if "beats" in per.get(k, {})]
    if t.get("beats") and beats:
        add("oracle", "beat_f", max(beat_f(t["beats"], b) for b in beats))
    keys = [per[k].get("key") for k in KEY_TOOLS if per.get(k, {}).get("key")]
    if keys:
        add("oracle", "key_weighted", max(key_score(t["key"], k) for k in keys))
        if t.get("key_analysis"):
            add("oracle", "key_weighted_analysis", max(key_score(t["key_analysis"], k) for k in keys))
    chords = [chord_scores(t["chords"], per[k]["chords"]) for k in CHORD_TOOLS if "chords" in per.get(k, {})]
    for metric in ("majmin", "mirex"):
        if chords:  # the tool with the most correct seconds on this track
            add("oracle", f"chord_{metric}", max((c[metric] for c in chords), key=lambda cd: cd[0]))


def track_errors(truth: dict[str, dict], preds: list[dict], beat_f_below: float = 0.8) -> list[dict]:
    """The tracks where the fused tempo (Acc1), key or beats (F below `beat_f_below`) are wrong,
    with truth vs prediction and the piece's meter and source: to find causes, not averages."""
    rows = []
    for p in preds:
        pid = _piece_id(p["path"], truth)
        if pid is None:
            continue
        t = truth[pid]
        a1, _ = tempo_accuracy(truth_tempo(t), p["tempo_bpm"])
        bf = beat_f(t["beats"], p["beats"]) if t.get("beats") else float("nan")
        ks = key_score(t["key"], p["key"])
        if a1 < 1 or ks < 1 or bf < beat_f_below:
            per = p.get("per_tool", {})
            rows.append({
                "piece": pid, "source": t.get("tradition"), "meter": t.get("time_signature"),
                "tempo": f"{truth_tempo(t):.1f} vs {p['tempo_bpm']:.1f} (madmom {per.get('madmom', {}).get('tempo_bpm')} x{per.get('madmom', {}).get('beats_per_bar')}/bar, essentia {per.get('essentia', {}).get('tempo_bpm')})",
                "beat_f": round(bf, 2), "key": f"{t['key']} vs {p['key']} ({ks:.1f})",
            })
    return rows


METRICS = ("tempo_acc1", "tempo_acc2", "beat_f", "downbeat_f", "key_weighted", "chord_majmin", "chord_mirex", "vocals_acc", "lyrics_wer")


def format_table(result: dict) -> str:
    """Systems as rows, metrics as columns; '-' where a system does not estimate that fact."""
    systems = sorted(result["systems"], key=lambda s: (s != "fused", s == "oracle", s))
    if not systems:
        return f"{result['tracks']} tracks scored: no prediction matched a ground-truth sidecar"
    cols = [m for m in METRICS if any(m in result["systems"][s] for s in systems)]
    w = max(len(s) for s in systems) + 2
    lines = [f"{result['tracks']} tracks scored ({result['sung_tracks']} sung)", "system".ljust(w) + "".join(c.rjust(14) for c in cols)]
    for s in systems:
        row = result["systems"][s]
        lines.append(s.ljust(w) + "".join((f"{row[c]:.3f}" if row.get(c) is not None else "-").rjust(14) for c in cols))
    return "\n".join(lines)


def evaluate_files(truth_path: Path, pred_path: Path) -> dict:
    return evaluate(load_truth(truth_path), read_jsonl(pred_path))


# --- fusion re-run from stored tool outputs: ablations and rule choice without re-annotating -------------

def refused(p: dict, mir: dict, key_cfg: dict | None = None, tempo_cfg: dict | None = None, chord_cfg: dict | None = None) -> dict:
    """Re-run `mir.fuse.tempo` and `mir.fuse.key` on one facts row's stored tool outputs (madmom and essentia
    tempi; madmom's key probabilities, essentia's profile votes, the deep-chroma mean, basic-pitch's pitch-class
    profile), with `key_cfg` / `tempo_cfg` in place of `mir["fusion"]`'s. The beat-subdivision vote is not
    stored, so it is 0 here (its weight is 0 in the shipped config). `chord_cfg` ({"tool_weights", "key_weight"}):
    the chord vote re-run on the stored tool chords and madmom's beats, without the deep-chroma term (the frames
    are not stored), so only rules with no chroma term are re-run exactly. Returns {"tempo_bpm", "key", "key_confidence", "chords"}."""
    from musicflamingo.mir import fuse

    per = p.get("per_tool", {})
    tcfg = tempo_cfg or mir["fusion"]["tempo"]
    tempo = fuse.tempo(per.get("madmom", {}).get("tempo_bpm"), per.get("essentia", {}).get("tempo_bpm"), 0.0, tcfg)["tempo_bpm"]
    profiles = list(dict.fromkeys([mir["key"]["profile"], *mir["key"]["profiles"]]))
    ess = {pr: (per[f"essentia_{pr}"]["key"], per[f"essentia_{pr}"]["key_confidence"]) for pr in profiles if per.get(f"essentia_{pr}", {}).get("key")}
    cnn = per.get("madmom_key", {}).get("probs")
    chroma = per.get("chroma_key", {}).get("chroma")
    pcp = per.get("basic_pitch_key", {}).get("pitch_class_profile")
    tool_chords = {k: per[k]["chords"] for k in CHORD_TOOLS if per.get(k, {}).get("chords")}
    fk = fuse.key(np.asarray(cnn) if cnn else None, ess, np.asarray(chroma) if chroma else None, key_cfg or mir["fusion"]["key"],
                  tool_chords, np.asarray(pcp) if pcp else None)
    key = fk["key"]
    chords = p.get("chords")
    if chord_cfg is not None:
        chords = fuse.chords(tool_chords, chord_cfg["tool_weights"], per.get("madmom", {}).get("beats") or [], float(p["duration_s"]), key, None, 10.0,
                             {"chroma_weight": 0.0, "key_weight": chord_cfg["key_weight"]})
    return {"tempo_bpm": tempo, "key": key, "key_confidence": fk["key_confidence"], "chords": chords}


def fusion_variants(mir: dict) -> dict[str, tuple[dict, dict, dict | None]]:
    """The fusion variants the benchmarks compare (name -> (key cfg, tempo cfg, chord cfg or None = as stored)):
    as shipped, without basic-pitch's note evidence, other note weights, tempo from madmom alone, and chord
    votes without the chroma term (with and without basic-pitch's chords, and madmom's CNN/CRF alone)."""
    k, t, c = mir["fusion"]["key"], mir["fusion"]["tempo"], mir["fusion"]["chords"]
    w = c["tool_weights"]
    return {
        "shipped": (k, t, None),
        "key without notes": (k | {"notes_weight": 0.0}, t, None),
        **{f"key notes_weight {x}": (k | {"notes_weight": x}, t, None) for x in (0.5, 2.0, 4.0)},
        "tempo madmom only": (k, t | {"essentia_weight": 0.0}, None),
        "chord vote, no chroma": (k, t, {"tool_weights": w, "key_weight": c["key_weight"]}),
        "chord vote, no chroma, no notes": (k, t, {"tool_weights": w | {"basic_pitch": 0.0}, "key_weight": c["key_weight"]}),
        "chords madmom_chords alone": (k, t, {"tool_weights": dict.fromkeys(w, 0.0) | {"madmom_chords": 1.0}, "key_weight": 0.0}),
    }


def fusion_study(truth: dict[str, dict], preds: list[dict], mir: dict, variants: dict[str, tuple[dict | None, dict | None]]) -> dict[str, dict]:
    """Tempo Acc1/Acc2, key weighted score and chord majmin (WCSR) of each fusion variant ({name: (key_cfg,
    tempo_cfg, chord_cfg)}), re-run on the stored tool outputs (`refused`), over the tracks with a truth sidecar."""
    out = {}
    for name, (kcfg, tcfg, ccfg) in variants.items():
        a1, a2, ks, cs = [], [], [], []
        for p in preds:
            pid = _piece_id(p["path"], truth)
            if pid is None:
                continue
            t, r = truth[pid], refused(p, mir, kcfg, tcfg, ccfg)
            if t.get("tempo_bpm") or t.get("beat_bpm"):
                acc = tempo_accuracy(truth_tempo(t), r["tempo_bpm"])
                a1.append(acc[0])
                a2.append(acc[1])
            if t.get("key"):
                ks.append(key_score(t["key"], r["key"]))
            if t.get("chords"):
                cs.append(chord_scores(t["chords"], r["chords"] or [])["majmin"])
        mean = lambda v: round(float(np.mean(v)), 4) if v else None  # noqa: E731
        out[name] = {"tempo_acc1": mean(a1), "tempo_acc2": mean(a2), "key_weighted": mean(ks), "tempo_n": len(a1), "key_n": len(ks),
                     "chord_majmin": round(sum(c for c, _ in cs) / sum(d for _, d in cs), 4) if sum(d for _, d in cs) else None, "chord_n": len(cs)}
    return out


def instrument_figures(asserted: dict[str, list[str]], families: dict[str, str]) -> dict:
    """asserted: id -> GM families named, best first; families: id -> labelled family (one instrument per recording).
    Share of recordings whose first named family is the labelled one, and precision of every family named."""
    ids = [i for i in families if i in asserted]
    named = sum(bool(asserted[i]) and asserted[i][0] == families[i] for i in ids)
    pairs = [(i, fam) for i in ids for fam in asserted[i]]
    right = sum(fam == families[i] for i, fam in pairs)
    ratio = lambda a, b: round(a / b, 3) if b else None  # noqa: E731
    return {"solo_recordings": len(ids), "named_correctly": ratio(named, len(ids)), "asserted": len(pairs),
            "precision": ratio(right, len(pairs)), "wrong": sorted({f"{i}: {fam} (is {families[i]})" for i, fam in pairs if fam != families[i]})}
