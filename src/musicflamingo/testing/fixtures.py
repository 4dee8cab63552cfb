"""Small synthetic datasets in the Audio Flamingo conversation format, for tests and benchmarks.

`write_fixture(root, n_tracks, seconds)` writes `n_tracks` short stereo WAVs
(22.05 kHz, a different sine chord each) under `root/data/raw_audio/audio/fixture/`
and, in the layout the upstream stages produce:
- `root/data/mf_skills/train.jsonl` and `heldout.jsonl` (one caption and two
  MCQ items per track; the last `heldout_tracks` tracks are held out),
- `root/data/mf_think/train.jsonl` (think/answer versions of the MCQ items).
Records carry every field the training and eval code reads: id, sound
(relative to root), duration, conversations, track_id, task, options,
answer, answer_letter, skill. Nothing here is a measurement: the
"facts" are the known synthesis parameters.

`small_model_cfg(**overrides)` is `conf/model/tiny.yaml` shrunk for fast tests
of the training/eval code paths: a randomly initialised 2-layer, 64-wide
tower (80 mel bins, as Whisper) and a 64-wide language model. The real tiny
profile (Whisper tiny.en tower) is tested in tests/model/test_model.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from musicflamingo.think_answer import THINK_INSTRUCTION, format_reply
from musicflamingo.io import write_jsonl

LETTERS = "ABCD"
TINY_YAML = Path(__file__).resolve().parents[3] / "conf/model/tiny.yaml"


def small_model_cfg(**overrides):
    from omegaconf import OmegaConf

    small = {
        "encoder": {"weights": None, "hidden_size": 64, "layers": 2, "heads": 4, "ffn": 128, "num_mel_bins": 80},
        "text": {"hidden_size": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 128},
    }
    return OmegaConf.merge(OmegaConf.load(TINY_YAML), small, overrides)
KEYS = ["C major", "G major", "D minor", "A minor", "E major", "F major"]


def _wav(path: Path, freq: float, seconds: float, sr: int = 22050) -> None:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * freq * r * t) for r in (1.0, 1.25, 1.5)) / 3
    stereo = np.stack([tone, 0.8 * tone], axis=1).astype(np.float32) * 0.3
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), stereo, sr)


def _mcq(track: dict, question: str, options: list[str], answer_idx: int, skill: str, suffix: str) -> dict:
    lines = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
    human = f"<sound>\n{question}\n{lines}\nAnswer with the letter of the correct option."
    letter = LETTERS[answer_idx]
    return {
        **track,
        "id": f"{track['track_id'][:12]}-{suffix}",
        "task": "mcq",
        "skill": skill,
        "conversations": [
            {"from": "human", "value": human},
            {"from": "gpt", "value": f"({letter}) {options[answer_idx]}"},
        ],
        "options": options,
        "answer": options[answer_idx],
        "answer_letter": letter,
    }


def write_fixture(root: Path, n_tracks: int = 4, seconds: float = 2.0, heldout_tracks: int = 1) -> dict[str, Path]:
    root = Path(root)
    train, heldout, think = [], [], []
    for i in range(n_tracks):
        rel = f"data/raw_audio/audio/fixture/track{i}.wav"
        _wav(root / rel, 220.0 * (1 + i / 4), seconds)
        track = {"sound": rel, "duration": seconds, "track_id": hashlib.sha256(rel.encode()).hexdigest()}
        key = KEYS[i % len(KEYS)]
        bpm = 80 + 20 * i
        caption = {
            **track,
            "id": f"{track['track_id'][:12]}-caption",
            "task": "caption",
            "skill": "caption",
            "conversations": [
                {"from": "human", "value": "<sound>\nDescribe this piece of music in detail."},
                {
                    "from": "gpt",
                    "value": f"A sustained chord in {key} at about {bpm} BPM, played on a synthetic organ.",
                },
            ],
        }
        keys = [KEYS[(i + k) % len(KEYS)] for k in range(4)]
        answer_idx = (i * 3) % 4
        keys[0], keys[answer_idx] = keys[answer_idx], keys[0]
        tempos = [f"about {bpm + 30 * (k - (i % 4))} BPM" for k in range(4)]
        items = [
            caption,
            _mcq(track, "What is the key of this piece?", keys, answer_idx, "harmony", "mcq0"),
            _mcq(track, "What is the approximate tempo of this piece?", tempos, i % 4, "attribute", "mcq1"),
        ]
        (heldout if i >= n_tracks - heldout_tracks else train).extend(items)
        for item in items[1:]:
            letter = item["answer_letter"]
            think.append(
                {
                    **item,
                    "id": item["id"] + "-think",
                    "task": "think",
                    "conversations": [
                        {"from": "human", "value": item["conversations"][0]["value"] + "\n" + THINK_INSTRUCTION},
                        {
                            "from": "gpt",
                            "value": format_reply(
                                f"Step 1: listen to the chord. Step 2: so the answer is ({letter}).", f"({letter}) {item['answer']}"
                            ),
                        },
                    ],
                }
            )
    paths = {
        "train": root / "data/mf_skills/train.jsonl",
        "heldout": root / "data/mf_skills/heldout.jsonl",
        "think": root / "data/mf_think/train.jsonl",
    }
    write_jsonl(paths["train"], train)
    write_jsonl(paths["heldout"], heldout)
    write_jsonl(paths["think"], think)
    return paths


def isolated_mlflow(monkeypatch, folder: Path) -> str:
    """Point MLflow (tracking, registry, ./mlruns artifacts) at `folder` for one test.

    Uses pytest's `monkeypatch`, so the environment, the working directory and
    MLflow's process-wide URIs are all restored after the test; a URI set with
    `mlflow.set_tracking_uri` would otherwise outlive it.
    """
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
    monkeypatch.chdir(folder)  # MLflow's default artifact root is ./mlruns
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(key, uri)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", uri)
    return uri
