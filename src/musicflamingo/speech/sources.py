"""ASR data sources and their weighted mixture, as conversation records for the trainer.

A source (one entry of `train.backbone.mixture`):

    {name, task, weight, kind: espeak | jsonl | hf_disk, ...}
    espeak:  n_per_task                                 the embedded corpus (corpus.py)
    jsonl:   path, audio_root (optional)                rows {"audio": path, "text": ...}
    hf_disk: path, split, audio_column, text_column     a `datasets.save_to_disk` folder

Contract:
- `load_source(src, cache_dir, seed)` returns manifest rows `{"audio": absolute
  path, "text", "task"}`. HF audio stored as bytes is written once to
  `cache_dir` (atomic). A row without audio or text, or whose audio file is
  missing, raises ValueError naming the source and row: nothing is dropped
  silently.
- `mixture_records(sources, n_examples, cache_dir, seed)` draws `n_examples`
  rows across sources in proportion to their weights (each source shuffled,
  cycled when it is smaller than its share) and returns them as conversation
  records (`id`, `sound`, `task`, `conversations`: the task's instruction
  after `<sound>`, and the transcript as the reply).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from musicflamingo.io import read_jsonl

TASK_PROMPTS = {
    "multilingual_asr": "Transcribe the speech.",
    "multispeaker_asr": "Transcribe the conversation, marking each speaker as [S1], [S2].",
    "lyrics": "Transcribe the lyrics of this song.",
}


def _plain(x):
    if isinstance(x, dict):
        return dict(x)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(x, resolve=True)


def _checked(rows: list[dict], name: str) -> list[dict]:
    for i, r in enumerate(rows):
        if not r.get("audio") or not str(r.get("text", "")).strip():
            raise ValueError(f"source {name!r} row {i}: needs audio and non-empty text, got {sorted(r)}")
        if not Path(r["audio"]).is_file():
            raise ValueError(f"source {name!r} row {i}: audio file {r['audio']} not found")
    if not rows:
        raise ValueError(f"source {name!r} is empty")
    return rows


def _jsonl(src: dict) -> list[dict]:
    path = Path(src["path"])
    if not path.is_file():
        raise FileNotFoundError(f"source {src['name']!r}: manifest {path} not found")
    root = Path(src.get("audio_root") or path.parent)
    return [
        {"audio": str(a if Path(a).is_absolute() else root / a), "text": r.get("text"), "task": src["task"]}
        for r in read_jsonl(path)
        for a in [r.get("audio") or r.get("audio_filepath") or ""]
    ]


def _hf_disk(src: dict, cache_dir: Path) -> list[dict]:
    import datasets

    path = Path(src["path"])
    if not path.exists():
        raise FileNotFoundError(f"source {src['name']!r}: no dataset saved at {path}")
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        ds = ds[src.get("split", "train")]
    audio_col, text_col = src.get("audio_column", "audio"), src.get("text_column", "text")
    ds = ds.cast_column(audio_col, datasets.Audio(decode=False))  # bytes/path only: no decoder needed
    rows = []
    for i, item in enumerate(ds):
        audio = item[audio_col] or {}
        file = audio.get("path")
        if audio.get("bytes"):
            digest = hashlib.sha256(audio["bytes"]).hexdigest()[:16]
            file = Path(cache_dir) / "hf" / f"{digest}{Path(file or 'x.wav').suffix or '.wav'}"
            if not file.is_file():
                file.parent.mkdir(parents=True, exist_ok=True)
                tmp = file.with_name(file.name + ".tmp")
                tmp.write_bytes(audio["bytes"])
                tmp.replace(file)
        rows.append({"audio": str(file) if file else "", "text": item.get(text_col), "task": src["task"]})
    return rows


def load_source(src, cache_dir: Path, seed: int) -> list[dict]:
    src = _plain(src)
    if src.get("task") not in TASK_PROMPTS:
        raise ValueError(f"source {src.get('name')!r}: task must be one of {list(TASK_PROMPTS)}")
    kind = src.get("kind")
    if kind == "espeak":
        from musicflamingo.speech.corpus import build_espeak_corpus

        rows = [r for r in build_espeak_corpus(Path(cache_dir) / "espeak", int(src.get("n_per_task", 8)), seed) if r["task"] == src["task"]]
    elif kind == "jsonl":
        rows = _jsonl(src)
    elif kind == "hf_disk":
        rows = _hf_disk(src, Path(cache_dir))
    else:
        raise ValueError(f"source {src.get('name')!r}: kind must be espeak, jsonl or hf_disk, got {kind!r}")
    return _checked(rows, src.get("name", kind))


def as_record(row: dict, index: int) -> dict:
    return {
        "id": f"{row['task']}-{index:05d}",
        "sound": row["audio"],
        "task": row["task"],
        "conversations": [
            {"from": "human", "value": f"<sound>\n{TASK_PROMPTS[row['task']]}"},
            {"from": "gpt", "value": str(row["text"]).strip()},
        ],
    }


def mixture_records(sources, n_examples: int, cache_dir: Path, seed: int) -> list[dict]:
    sources = [_plain(s) for s in sources]
    weights = [float(s.get("weight", 1.0)) for s in sources]
    if not sources or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("the mixture needs at least one source and positive weights")
    rng = random.Random(seed)
    pools = [rng.sample(rows, len(rows)) for rows in (load_source(s, cache_dir, seed) for s in sources)]
    counts = [int(n_examples * w / sum(weights)) for w in weights]
    for i in sorted(range(len(sources)), key=lambda i: -weights[i])[: n_examples - sum(counts)]:
        counts[i] += 1  # the rounding remainder goes to the heaviest sources
    drawn = [pool[k % len(pool)] for pool, n in zip(pools, counts) for k in range(n)]
    rng.shuffle(drawn)
    return [as_record(r, i) for i, r in enumerate(drawn)]
