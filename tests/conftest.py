"""Shared fixtures: composed configs, a small rendered corpus, isolated service state."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
TINY_SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="session")
def smoke_cfg():
    from musicflamingo.config import compose

    return compose(["experiment=smoke"])


@pytest.fixture(scope="session")
def chorale(tmp_path_factory):
    """One Bach chorale rendered with the small soundfont: (wav path, truth dict)."""
    from musicflamingo.audio import demo_corpus

    out = tmp_path_factory.mktemp("chorale")
    spec = demo_corpus.PieceSpec("bach/bwv66.6.mxl", None, "Bach chorale", 0, 100)
    score, truth = demo_corpus.prepare(spec, max_seconds=20)
    demo_corpus.write_midi(score, out / "x.mid")
    demo_corpus.render(out / "x.mid", out / "x.wav", TINY_SF2, 22050, 60, 50_000_000)
    return out / "x.wav", truth


@pytest.fixture
def tone(tmp_path):
    def make(name: str, seconds: float, amplitude: float = 0.3, sr: int = 22050, fmt: str = "WAV") -> Path:
        t = np.arange(int(seconds * sr)) / sr
        path = tmp_path / name
        sf.write(path, (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format=fmt)
        return path

    return make
