"""Vocals yes / no / unknown, with a calibrated probability, from the musicnn tagger.

Evidence per 3 s patch of the taggram (`mir.tagger`): the largest probability
among MagnaTagATune's voice tags (vocal, singing, female, male, choir, ...)
minus the largest among its "no vocal(s)" / "no voice" tags. The track score
is the upper quartile of that evidence over the patches, so a song with an
instrumental intro still counts while one stray patch does not.

The score becomes P(sung) by Platt scaling (a logistic `sigmoid(a * score + b)`)
whose two parameters are fit on the real-recording benchmark
(`benchmarks/real_benchmark.py --calibrate`, cross-validated there). The
state cut-offs are fixed, not tuned: "yes" at P >= `yes_probability` (0.9),
"no" at P <= `no_probability` (0.1), "unknown" between. `confidence` is the
probability of the stated state (P for yes, 1 - P for no and for unknown the
larger of the two).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

VOICE_TAGS = ("vocal", "vocals", "singing", "female", "male", "woman", "man", "voice", "choir", "choral", "opera",
              "male vocal", "female vocal", "male voice", "female voice")
NO_VOICE_TAGS = ("no vocals", "no vocal", "no voice")


def patch_evidence(taggram: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """(n_patches,) max voice-tag probability minus max no-voice-tag probability, in [-1, 1]."""
    idx = {t: i for i, t in enumerate(labels)}
    voice = taggram[:, [idx[t] for t in VOICE_TAGS]].max(axis=1)
    none = taggram[:, [idx[t] for t in NO_VOICE_TAGS]].max(axis=1)
    return voice - none


def score(evidence: np.ndarray) -> float:
    """Track (or window) score: the upper quartile of the patch evidence."""
    return float(np.quantile(evidence, 0.75)) if len(evidence) else float("nan")


def probability(s: float, cfg: dict) -> float:
    """Calibrated P(sung) of a score (Platt scaling with `cfg['platt_a']`, `cfg['platt_b']`)."""
    return float(1.0 / (1.0 + np.exp(-(float(cfg["platt_a"]) * s + float(cfg["platt_b"])))))


def decide(p: float, cfg: dict) -> tuple[str, float]:
    """(state, confidence of that state) for P(sung) = p."""
    if p >= float(cfg["yes_probability"]):
        return "yes", round(p, 3)
    if p <= float(cfg["no_probability"]):
        return "no", round(1.0 - p, 3)
    return "unknown", round(max(p, 1.0 - p), 3)


def detect(evidence: np.ndarray, cfg: dict) -> dict:
    """{"state", "confidence", "probability" (P sung), "score"} for a track or window's patch evidence."""
    s = score(evidence)
    if not np.isfinite(s):
        return {"state": "unknown", "confidence": 0.0, "probability": None, "score": None}
    p = probability(s, cfg)
    state, conf = decide(p, cfg)
    return {"state": state, "confidence": conf, "probability": round(p, 4), "score": round(s, 4)}


AS_BOOL = {"yes": True, "no": False, "unknown": None}  # the `vocals` fact: True only when confidently present
