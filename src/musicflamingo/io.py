"""Small, safe file helpers: atomic writes, JSONL, content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path in the same folder; rename over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    """Strict JSON (NaN/Infinity refused with ValueError: they are not JSON), written atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            if hasattr(row, "model_dump"):
                row = row.model_dump(mode="json")
            fh.write(json.dumps(row, ensure_ascii=False, default=str, allow_nan=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class OutputError(Exception):
    """An output or cache folder cannot be written or is in use; one line, reported before any work."""


def check_writable(folder: Path) -> None:
    """Create `folder` and prove a file can be written and renamed there, or raise OutputError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ".write-check") as tmp:
            tmp.write_bytes(b"ok")
        (folder / ".write-check").unlink()
    except OSError as e:
        raise OutputError(f"cannot write to {folder}: {e.strerror or e}") from e


@contextmanager
def exclusive_lock(folder: Path, what: str = "run") -> Iterator[None]:
    """Hold an advisory lock on `folder` (flock on `folder/.lock`); a second holder gets OutputError at once.

    Two runs writing one output folder would otherwise replace each other's rows.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / ".lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            fh.seek(0)
            raise OutputError(f"{folder} is in use by another {what} ({fh.read().strip() or 'unknown pid'}); wait for it or choose another folder") from e
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fh.close()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    return _file_digest(path, hashlib.sha256(), chunk)


def _file_digest(path: Path, h, chunk: int = 1 << 20) -> str:
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """The one fingerprint of a folder (a model checkpoint, a dataset out): DVC's directory hash,
    `md5(json([{"md5": file md5, "relpath": posix path}, ...] sorted by path)) + ".dir"`, over every file below it.

    The same string DVC records for the out in `dvc.lock`, so lineage finds a model's producer by it,
    the eval's prediction cache is keyed by it and a training run's resume folder names it. Content only
    (file bytes and relative paths, not mtimes); files are streamed, so an 8B checkpoint's shards are
    never held in memory. Raises FileNotFoundError when `folder` is not a directory."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    entries = [{"md5": _file_digest(p, hashlib.md5()), "relpath": p.relative_to(folder).as_posix()}
               for p in sorted(folder.rglob("*")) if p.is_file()]
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JsonCache:
    """Per-item result cache: one JSON file per key, written atomically.

    A stage killed half-way keeps every finished item; the rerun reads them
    back instead of recomputing. Keys combine the content hash with the hash
    of the config that produced the result.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        p = self._path(key)
        if not p.exists():
            return None
        try:
            return read_json(p)
        except (json.JSONDecodeError, OSError):
            return None  # a torn file from an older crash: recompute

    def put(self, key: str, value: Any) -> None:
        write_json(self._path(key), value)
