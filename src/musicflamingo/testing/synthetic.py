"""Synthetic MIR facts with every field of the MIR contract, for tests and benchmarks.

The demo corpus has no sections, lyrics or per-tool readings yet; these
tracks have them, so every claim kind of the fact checker and every QA
family of the writer is exercised. Deterministic for a given seed.
"""

from __future__ import annotations

import random

from musicflamingo.schemas import PITCH_CLASSES

_MAJOR = [(0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "7"), (9, "min")]
_MINOR = [(0, "min"), (3, "maj"), (5, "min"), (7, "7"), (8, "maj"), (10, "maj")]
_LABELS = ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]
_WORDS = "love light rain morning river home night heart road song dream fire stone wind".split()
_INSTRUMENTS = ["acoustic grand piano", "violin", "nylon-string guitar", "flute", "clarinet", "string ensemble", "church organ"]
_TRADITIONS = ["Bach chorale", "German folk song (Essen)", "Irish and Scottish fiddle tune", "Ragtime (Joplin)", None]


def synthetic_track(seed: int) -> tuple[dict, dict]:
    """(facts, tags) for one made-up track: a diatonic progression, sections, lyrics and tool readings."""
    rng = random.Random(seed)
    tonic = rng.randrange(12)
    mode = rng.choice(["major", "minor"])
    key = f"{PITCH_CLASSES[tonic]} {mode}"
    bpm = round(rng.uniform(60, 170), 2)
    meter = rng.choice(["4/4", "3/4", "4/4", "2/4", "6/8"])
    per_bar = int(meter.split("/")[0]) if meter != "6/8" else 2
    beat = 60.0 / bpm
    duration = round(rng.uniform(60, 200), 2)
    beats = [round(i * beat, 3) for i in range(int(duration / beat))]
    downbeats = beats[::per_bar]
    degrees = _MAJOR if mode == "major" else _MINOR
    chords, t = [], 0.0
    bar = beat * per_bar
    prog = [0, 3, 4, 0] if rng.random() < 0.5 else [0, 5, 1, 4]
    i = 0
    while t < duration - 0.5:
        d, q = degrees[prog[i % len(prog)] % len(degrees)]
        end = min(duration, t + bar * rng.choice([1, 1, 2]))
        chords.append([round(t, 3), round(end, 3), f"{PITCH_CLASSES[(tonic + d) % 12]}:{q}"])
        t, i = end, i + 1
    n_sec = rng.randint(3, 6)
    cuts = sorted(rng.sample(range(8, int(duration) - 8), n_sec - 1))
    bounds = [0.0] + [float(c) for c in cuts] + [duration]
    labels = _LABELS[:n_sec] if rng.random() < 0.7 else [chr(65 + (k % 3)) for k in range(n_sec)]
    sections = [[bounds[k], bounds[k + 1], labels[k]] for k in range(n_sec)]
    mod_to = PITCH_CLASSES[(tonic + 7) % 12] + " " + mode
    section_keys = [[s, e, mod_to if k == n_sec - 2 and rng.random() < 0.5 else key] for k, (s, e, _) in enumerate(sections)]
    vocals = rng.random() < 0.6
    words = []
    if vocals:
        t = rng.uniform(2, 8)
        while t < duration - 2 and len(words) < 120:
            w = rng.choice(_WORDS)
            words.append([round(t, 2), round(t + 0.4, 2), w])
            t += rng.uniform(0.5, 2.5)
    alt_tempo = round(bpm * rng.choice([0.5, 2.0, 1.5]), 2)
    alt_key = f"{PITCH_CLASSES[(tonic + 7) % 12]} {mode}" if rng.random() < 0.5 else (
        f"{PITCH_CLASSES[(tonic + 9) % 12]} minor" if mode == "major" else f"{PITCH_CLASSES[(tonic + 3) % 12]} major")
    facts = {
        "track_id": f"{rng.getrandbits(256):064x}", "path": f"synthetic/{seed}.wav", "duration_s": duration,
        "tempo_bpm": bpm, "tempo_confidence": round(rng.uniform(0.3, 1.0), 3), "time_signature": meter,
        "beats": beats, "downbeats": downbeats, "key": key, "key_confidence": round(rng.uniform(0.3, 1.0), 3),
        "chords": chords, "tools": {"synthetic": "1"},
        "segments": [{"start_s": float(s), "end_s": float(min(s + 30, duration)), "tempo_bpm": bpm} for s in range(0, int(duration), 30)],
        "sections": sections, "section_keys": section_keys, "tempo_alternatives": [alt_tempo],
        "key_alternatives": [[alt_key, 0.4]], "harmonic_rhythm": None,
        "loudness_lufs": round(rng.uniform(-30, -8), 1), "loudness_range_lu": round(rng.uniform(2, 15), 1),
        "brightness_hz": round(rng.uniform(600, 4000), 0), "onset_density": round(rng.uniform(0.5, 8), 2),
        "vocals": vocals, "lyrics": " ".join(w for _, _, w in words) if vocals else "", "words": words,
        "per_tool": {"madmom": {"tempo_bpm": bpm, "key": key}, "essentia": {"tempo_bpm": alt_tempo, "key": alt_key}},
    }
    tags = {"instruments": rng.sample(_INSTRUMENTS, rng.choice([1, 1, 2]))}
    tradition = rng.choice(_TRADITIONS)
    if tradition:
        tags["tradition"] = tradition
    return facts, tags
