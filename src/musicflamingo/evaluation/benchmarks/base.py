"""The one item type every benchmark adapter produces, and the helpers they share.

Contract:
- `BenchItem` is one question about one or more audio files. `kind` is one of
  `KINDS`. For "mcq" and "classification" `options` is the list shown to the
  model and `answer` is the text of the correct option (for "classification"
  it is the label). For "asr" `options` is None and `answer` is the reference
  transcript. `language` is the language of `answer` ("en", "zh").
- An adapter is any object with a `name` and `load(cfg) -> LoadResult`; `cfg`
  is a plain mapping of local paths and options (no downloads, ever).
- `LoadResult.items` holds only items whose every audio file exists and is
  readable. Every missing or unreadable file becomes one dict in
  `LoadResult.missing_audio` (`path`, `reason`, `id`, `benchmark`); loading
  never raises because of audio. Rows dropped for other reasons (wrong
  domain, no published answer, ...) are counted in `LoadResult.skipped`.
- A missing annotation file raises FileNotFoundError naming the config key;
  a config that lacks a required key raises ValueError naming the key.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from musicflamingo.data.formats import choices_prompt

KINDS = ("mcq", "classification", "asr", "caption")
AUDIO_CHECKS = ("decode", "exists")


@dataclass
class BenchItem:
    benchmark: str
    id: str
    audio_paths: list[str]
    question: str
    options: list[str] | None
    answer: str
    kind: str
    meta: dict = field(default_factory=dict)
    language: str = "en"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"BenchItem.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("mcq", "classification") and not self.options:
            raise ValueError(f"{self.benchmark}/{self.id}: a {self.kind} item needs options")


@dataclass
class LoadResult:
    items: list[BenchItem]
    missing_audio: list[dict]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_missing_audio(self) -> int:
        return len(self.missing_audio)


@runtime_checkable
class Adapter(Protocol):
    name: str

    def load(self, cfg: Mapping[str, Any]) -> LoadResult: ...


def letters(n: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n]


def render_prompt(item: BenchItem) -> str:
    """A plain text prompt for `item`; callers with their own template can ignore it.

    MuChoMusic gets the official layout ("Question: ... Options: (A) x (B) y
    ... The correct answer is: ") in the order stored on the item (the
    recorded shuffle), because its scorer reads letters. The other MCQ
    benchmarks are scored by string match on the option *text* (a bare "B"
    matches nothing), so their prompt lists the choices unlettered and asks for
    the text. Classification lists the closed label set.
    """
    opts = list(item.options or [])
    if item.kind == "mcq" and item.benchmark == "muchomusic":
        lettered = " ".join(f"({ch}) {o}" for ch, o in zip(letters(len(opts)), opts))
        return f"Question: {item.question}\nOptions: {lettered}\nThe correct answer is: "
    if item.kind == "mcq":
        return choices_prompt(item.question, opts)
    if item.kind == "classification":
        return f"{item.question}\nAnswer with exactly one of: {', '.join(opts)}."
    return item.question


# ---------------------------------------------------------------- config helpers

def required(cfg: Mapping[str, Any], key: str, benchmark: str) -> Any:
    value = cfg.get(key)
    if value in (None, ""):
        raise ValueError(f"{benchmark}: config key '{key}' is required")
    return value


def annotation_path(cfg: Mapping[str, Any], benchmark: str, key: str = "annotations") -> Path:
    """The annotation file named by `cfg[key]`; FileNotFoundError names the key when it is absent."""
    path = Path(str(required(cfg, key, benchmark))).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{benchmark}: annotation file from config key '{key}' not found: {path}")
    return path


def audio_root(cfg: Mapping[str, Any], default: Path) -> Path:
    value = cfg.get("audio_root")
    return Path(str(value)).expanduser() if value not in (None, "") else Path(default)


def resolve_audio(root: Path, rel: str) -> Path:
    """`rel` under `root`; published metadata often writes "./x.wav", absolute paths pass through."""
    p = Path(str(rel))
    return p if p.is_absolute() else Path(root) / p


def probe_audio(path: Path, mode: str = "decode") -> str | None:
    """None when `path` is usable audio, else a short reason.

    "exists" checks that a non-empty file is there; "decode" also opens it with
    libsndfile (header only, cheap), which catches truncated or mislabelled
    files such as GTZAN's known-corrupt jazz.00054.wav. Use "exists" for
    containers libsndfile cannot open (e.g. m4a) that your model loader can.
    """
    if mode not in AUDIO_CHECKS:
        raise ValueError(f"audio_check must be one of {AUDIO_CHECKS}, got {mode!r}")
    path = Path(path)
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "not a file"
    if path.stat().st_size == 0:
        return "empty file"
    if mode == "decode":
        from musicflamingo.audio.loader import Rejected, probe

        try:
            probe(path)  # the shared loader's header probe: same formats and bounds as ingest
        except Rejected as e:
            return f"unreadable: {e}"
    return None


def read_records(path: Path) -> list[dict]:
    """A JSON list, or JSON Lines (one object per line); MMAR/MMAU ship either way in the wild."""
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(stripped)
        if not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{path}: expected a JSON list of objects")
        return data
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{i}: not valid JSON ({e.msg})") from e
    return records


def is_blank(value: Any) -> bool:
    """None, NaN, pandas NA or an all-whitespace string (parquet/CSV nulls arrive in all these forms)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if hasattr(value, "__len__"):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean(value: Any) -> Any:
    """`value` with blank scalars turned into None, so meta stays JSON-clean (no NaN)."""
    return None if is_blank(value) and not isinstance(value, str) else value


def as_str_list(value: Any) -> list[str]:
    """None -> [], "x" -> ["x"], list/tuple/numpy array -> list of str (parquet list columns arrive as arrays)."""
    if is_blank(value):
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in list(value) if not is_blank(v)]
    except TypeError:
        return [str(value)]


class Collector:
    """Accumulates items for one load: checks audio, counts skips, honours `cfg["limit"]`.

    `limit` caps the number of *candidate* items (before audio checks) so a
    smoke run does not probe every file of a large benchmark.
    """

    def __init__(self, benchmark: str, cfg: Mapping[str, Any]):
        self.benchmark = benchmark
        self.mode = str(cfg.get("audio_check", "decode"))
        if self.mode not in AUDIO_CHECKS:
            raise ValueError(f"{benchmark}: audio_check must be one of {AUDIO_CHECKS}, got {self.mode!r}")
        limit = cfg.get("limit")
        self.limit = int(limit) if limit not in (None, "") else None
        self.items: list[BenchItem] = []
        self.missing: list[dict] = []
        self.skipped: Counter = Counter()
        self.seen = 0

    @property
    def full(self) -> bool:
        return self.limit is not None and self.seen >= self.limit

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def add(self, item: BenchItem) -> bool:
        """Keep `item` if all its audio is usable; otherwise record each bad file. Returns kept."""
        self.seen += 1
        bad = []
        for p in item.audio_paths:
            reason = probe_audio(Path(p), self.mode)
            if reason is not None:
                bad.append({"path": str(p), "reason": reason, "id": item.id, "benchmark": self.benchmark})
        if bad or not item.audio_paths:
            self.missing.extend(bad or [{"path": "", "reason": "no audio path in annotations",
                                          "id": item.id, "benchmark": self.benchmark}])
            return False
        self.items.append(item)
        return True

    def result(self) -> LoadResult:
        return LoadResult(items=self.items, missing_audio=self.missing, skipped=dict(self.skipped))


def require_columns(columns: Iterable[str], needed: Iterable[str], benchmark: str, path: Path) -> None:
    missing = [c for c in needed if c not in set(columns)]
    if missing:
        raise ValueError(f"{benchmark}: {path} lacks required column(s) {missing}")
