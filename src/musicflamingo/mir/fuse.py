"""Fusion: one fact from several tools' raw estimates, chosen by evidence.

- tempo: the beat tracker's tempo, moved to the metrical level the evidence
  supports (essentia's estimate, the beat subdivision seen in the onsets, a
  broad prior on the tempo range), so ×2 and ×3/2 errors are caught;
- key: madmom's CNN key probabilities + essentia's votes over several key
  profiles + a profile correlation of the deep chroma (Aarden-Essen, the
  profile music21 also analyses scores with) + chord evidence for the tonic
  (time on each key's tonic triad, the final chord), which separates
  relative and fifth-related keys;
- key and chords also take basic-pitch's note evidence (mir.notes) when
  `notes.enabled`: its pitch-class profile joins the key scores, its
  beat-synchronous triads join the chord vote as one more tool;
- chords: beat-synchronous vote of Chordino, madmom CNN/CRF and madmom
  deep-chroma chords, with the chroma's fit to each triad and the key's
  diatonic triads as tie-breakers.

Weights live in `conf/mir/default.yaml` (`fusion:`) and were set on renders
with the development soundfont only.
"""

from __future__ import annotations

import numpy as np

from musicflamingo.mir.tools import index_key, key_index, key_name
from musicflamingo.schemas import PITCH_CLASSES

# Aarden-Essen key profiles (as in music21's `AardenEssen` analysis), tonic first.
AE_MAJOR = np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122])
AE_MINOR = np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623])
_MAJ, _MIN = (0, 4, 7), (0, 3, 7)


# --- tempo ---------------------------------------------------------------

def beat_subdivision(onset_env: np.ndarray, fps: float, beats: list[float]) -> float:
    """How ternary the beat's subdivision is: onset strength at beat thirds minus at beat halves (>0 = ternary)."""
    if len(beats) < 4 or not len(onset_env):
        return 0.0
    b = np.asarray(beats)
    thirds, halves = [], []
    for a, c in zip(b[:-1], b[1:]):
        d = c - a
        at = lambda frac: onset_env[min(int(round((a + frac * d) * fps)), len(onset_env) - 1)]  # noqa: E731
        thirds.append(max(at(1 / 3), at(2 / 3)))
        halves.append(at(1 / 2))
    scale = float(np.mean(onset_env)) + 1e-9
    return float((np.mean(thirds) - np.mean(halves)) / scale)


def tempo(madmom_bpm: float | None, essentia_bpm: float | None, ternary: float, cfg: dict) -> dict:
    """Beat tempo with octave resolution (the target is the notated beat's level, as in the benchmark's
    truth); returns bpm, confidence and ranked alternatives.

    Candidates are each tool's estimate and its metrical relatives (x1/2, x2, x2/3, x3/2). A candidate
    scores the weighted support of every tool (full for a match within 4 %, `octave_support` for a
    x2 relation, `triple_support` for a x3/2 one), plus a broad log-tempo prior, plus the beat
    subdivision's vote for x3/2 (a ternary beat is a dotted quarter).
    """
    ests = {"madmom": madmom_bpm, "essentia": essentia_bpm}
    ests = {k: float(v) for k, v in ests.items() if v}
    if not ests:
        return {"tempo_bpm": None, "tempo_confidence": 0.0, "tempo_alternatives": []}
    relations = {1.0: 1.0, 2.0: cfg["octave_support"], 0.5: cfg["octave_support"], 1.5: cfg["triple_support"], 2 / 3: cfg["triple_support"]}
    cands = sorted({round(t * r, 2) for t in ests.values() for r in relations if 30 <= t * r <= 300})
    scored = []
    for c in cands:
        s = -0.5 * (np.log2(c / float(cfg["prior_bpm"])) / float(cfg["prior_octaves"])) ** 2
        for tool, t in ests.items():
            s += float(cfg[f"{tool}_weight"]) * max((sup for r, sup in relations.items() if abs(c / (t * r) - 1) < 0.04), default=0.0)
            if abs(c / (t * 1.5) - 1) < 0.04:
                s += float(cfg["ternary_weight"]) * ternary
        scored.append((s, c))
    scored.sort(reverse=True)
    scores = np.array([s for s, _ in scored])
    p = np.exp((scores - scores.max()) * float(cfg["confidence_sharpness"]))
    best = scored[0][1]
    alts: list[float] = []
    for _, c in scored[1:]:
        if all(abs(c / a - 1) > 0.04 for a in [best, *alts]):
            alts.append(c)
    return {"tempo_bpm": round(best, 2), "tempo_confidence": round(float(p[0] / p.sum()), 3), "tempo_alternatives": alts[:3]}


def beats_at_level(beats: list[float], downbeats: list[float], ratio: float) -> list[float]:
    """The tracker's beats moved to the fused tempo's metrical level (`ratio` = fused / tracked tempo).

    x2 / x3: each beat interval is split evenly; x1/2 / x1/3: every 2nd / 3rd beat, in the phase
    that keeps the most downbeats. Other ratios (x3/2) have no beat-synchronous answer: the
    tracker's beats are kept.
    """
    if len(beats) < 2:
        return list(beats)
    b = np.asarray(beats, dtype=float)
    for n in (2, 3):
        if abs(ratio / n - 1) < 0.04:
            sub = [b[i] + k * (b[i + 1] - b[i]) / n for i in range(len(b) - 1) for k in range(n)]
            return [round(float(t), 3) for t in [*sub, b[-1]]]
        if abs(ratio * n - 1) < 0.04:
            down = set(np.round(downbeats, 3))
            phase = max(range(n), key=lambda p: sum(round(float(t), 3) in down for t in b[p::n]))
            return [round(float(t), 3) for t in b[phase::n]]
    return [round(float(t), 3) for t in b]


def beats_per_bar(beats: list[float], downbeats: list[float]) -> int | None:
    """The most common number of beats between consecutive downbeats (None without two downbeats)."""
    b = np.asarray(beats, dtype=float)
    counts = [int(np.sum((b >= a - 1e-3) & (b < c - 1e-3))) for a, c in zip(downbeats[:-1], downbeats[1:])]
    counts = [c for c in counts if c > 0]
    return int(np.bincount(counts).argmax()) if counts else None


# --- key -----------------------------------------------------------------

def chroma_key_scores(chroma_c: np.ndarray) -> np.ndarray:
    """Pearson correlation of a C-based pitch-class vector with the 24 rotated Aarden-Essen profiles."""
    v = np.asarray(chroma_c, dtype=float)
    out = np.zeros(24)
    for pc in range(12):
        out[pc] = np.corrcoef(v, np.roll(AE_MAJOR, pc))[0, 1]
        out[12 + pc] = np.corrcoef(v, np.roll(AE_MINOR, pc))[0, 1]
    return np.nan_to_num(out)


def tonic_chord_evidence(tool_chords: dict[str, list[list]]) -> tuple[np.ndarray, np.ndarray]:
    """Chord evidence for the tonic, per key index: (share of the tools' chord time spent on that key's
    tonic triad, share of the tools whose last chord is that triad). It separates the keys a pitch
    profile confuses (relative major/minor, a fifth apart): they share notes, not a tonic chord."""
    share, final = np.zeros(24), np.zeros(24)
    tools_with_chords = [seq for seq in tool_chords.values() if seq]
    for seq in tools_with_chords:
        total = sum(e - s for s, e, _ in seq) or 1.0
        last = None
        for s, e, lab in seq:
            t = _triad(lab)
            if t is not None:
                share[t[0] + (12 if t[1] == "min" else 0)] += (e - s) / total
                last = t
        if last is not None:
            final[last[0] + (12 if last[1] == "min" else 0)] += 1.0
    n = max(len(tools_with_chords), 1)
    return share / n, final / n


def key(cnn_probs: np.ndarray | None, essentia: dict, chroma_c: np.ndarray | None, cfg: dict, tool_chords: dict | None = None,
        notes_pcp: np.ndarray | None = None) -> dict:
    """Fused 24-key scores; returns key, confidence (posterior of the winner) and ranked alternatives.
    `notes_pcp`: basic-pitch's pitch-class profile (mir.notes), correlated with the same Aarden-Essen profiles
    as the deep chroma, weighted by `notes_weight` (0 or absent = unused)."""
    score = np.zeros(24)
    for profile, weight in ((chroma_c, cfg["chroma_weight"]), (notes_pcp, cfg.get("notes_weight", 0.0))):
        if profile is not None and np.any(profile) and weight:
            corr = chroma_key_scores(profile)
            e = np.exp(cfg["chroma_sharpness"] * (corr - corr.max()))
            score += float(weight) * e / e.sum()
    if cnn_probs is not None:
        score += cfg["cnn_weight"] * np.asarray(cnn_probs)
    for k, strength in essentia.values():
        score[key_index(k)] += cfg["essentia_weight"] * max(float(strength), 0.0) / max(len(essentia), 1)
    if tool_chords:
        share, final = tonic_chord_evidence(tool_chords)
        score += float(cfg.get("tonic_chord_weight", 0.0)) * share + float(cfg.get("final_chord_weight", 0.0)) * final
    post = score / score.sum() if score.sum() > 0 else np.full(24, 1 / 24)
    order = np.argsort(-post)
    return {
        "key": index_key(int(order[0])),
        "key_confidence": round(float(post[order[0]]), 3),
        "key_alternatives": [[index_key(int(i)), round(float(post[i]), 3)] for i in order[1:4]],
    }


def chroma_c(chroma: np.ndarray) -> np.ndarray:
    """madmom's deep chroma, as a C-based array (its bins already start at C: checked on renders in known keys)."""
    return np.asarray(chroma)


# --- chords ----------------------------------------------------------------

def _triad(label: str) -> tuple[int, str] | None:
    """Harte label -> (root pc, 'maj'|'min'); None for N/X and chords that are neither (dim, aug, sus)."""
    if label in ("N", "X") or ":" not in label:
        return None
    root, _, q = label.partition(":")
    q = q.split("/")[0]
    pc = key_index(key_name(root, "major"))
    if q.startswith("min"):
        return pc, "min"
    if q in ("maj", "7", "maj7", "maj6", "9"):
        return pc, "maj"
    return None


def _label_at(chords: list[list], t: float) -> str:
    for s, e, lab in chords:
        if s <= t < e:
            return lab
    return "N"


def _diatonic(key: str) -> set[tuple[int, str]]:
    k = key_index(key)
    tonic, minor = k % 12, k >= 12
    if minor:  # natural minor plus the harmonic-minor dominant
        steps = [(0, "min"), (3, "maj"), (5, "min"), (7, "min"), (7, "maj"), (8, "maj"), (10, "maj")]
    else:
        steps = [(0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min")]
    return {((tonic + i) % 12, q) for i, q in steps}


def chords(tool_chords: dict[str, list[list]], weights: dict, beats: list[float], duration: float, key: str | None, chroma: np.ndarray | None, chroma_fps: float, cfg: dict) -> list[list]:
    """Beat-synchronous vote; returns merged [start_s, end_s, Harte] with major/minor triads (or N)."""
    grid = [0.0, *[b for b in beats if 0 < b < duration], duration]
    diatonic = _diatonic(key) if key else set()
    out: list[list] = []
    for a, b in zip(grid[:-1], grid[1:]):
        if b - a < 1e-3:
            continue
        mid = (a + b) / 2
        votes: dict[tuple[int, str] | None, float] = {}
        for tool, seq in tool_chords.items():
            t = _triad(_label_at(seq, mid))
            votes[t] = votes.get(t, 0.0) + float(weights.get(tool, 1.0))
        if chroma is not None and len(chroma):
            seg = chroma[int(a * chroma_fps) : max(int(b * chroma_fps), int(a * chroma_fps) + 1)]
            if len(seg):
                v = seg.mean(axis=0)
                for cand in list(votes):
                    if cand is not None:
                        pcs = [(cand[0] + i) % 12 for i in (_MAJ if cand[1] == "maj" else _MIN)]
                        votes[cand] += cfg["chroma_weight"] * float(v[pcs].sum() / (v.sum() + 1e-9))
        for cand in votes:
            if cand in diatonic:
                votes[cand] += cfg["key_weight"]
        best = max(votes.items(), key=lambda kv: kv[1])[0]
        label = "N" if best is None else f"{PITCH_CLASSES[best[0]]}:{best[1]}"
        if out and out[-1][2] == label:
            out[-1][1] = round(b, 3)
        else:
            out.append([round(a, 3), round(b, 3), label])
    return out


# --- confidences of the meter and the chords (every fact carries one: data.known.gate hedges or omits by it) ---

def meter_confidence(beats: list[float], downbeats: list[float], beats_per_bar: int | None) -> float | None:
    """Share of the bars (between consecutive downbeats) that hold `beats_per_bar` beats; None without two
    downbeats. A steady meter gives 1.0; bars of changing length (a tracker unsure of the downbeat) lower it."""
    if beats_per_bar is None or len(downbeats) < 2:
        return None
    b = np.asarray(beats, dtype=float)
    counts = [int(np.sum((b >= a - 1e-3) & (b < c - 1e-3))) for a, c in zip(downbeats[:-1], downbeats[1:])]
    counts = [c for c in counts if c > 0]
    return round(sum(c == beats_per_bar for c in counts) / len(counts), 3) if counts else None


def chord_confidence(tool_chords: dict[str, list[list]], fused: list[list], step_s: float = 0.25) -> float | None:
    """Agreement of the chord tools with the fused chords: over a `step_s` grid of the fused segments with a
    triad, the mean share of tools whose own triad there is the fused one (1.0 = every tool agrees
    everywhere). None when no tool gave chords or no fused triad exists."""
    seqs = [seq for seq in tool_chords.values() if seq]
    shares = []
    for s, e, lab in fused:
        t = _triad(lab)
        if t is None or not seqs:
            continue
        for x in np.arange(s + step_s / 2, e, step_s):
            shares.append(sum(_triad(_label_at(seq, float(x))) == t for seq in seqs) / len(seqs))
    return round(float(np.mean(shares)), 3) if shares else None
