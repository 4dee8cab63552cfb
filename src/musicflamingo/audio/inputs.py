"""Which inputs a run has, and exactly one outcome for each.

A folder is walked recursively (symlinked folders followed, loops cut); a
manifest is `.jsonl` (objects with `path`) or one path per line. Every
path found becomes an `Input`; every line or entry that names no usable
path becomes a quarantine row on the spot. Nothing is skipped silently: the
only names passed over are the folder's own documentation (`IGNORED_NAMES`).

`dedupe` then hashes each input (after the size bound, so a 5 GB file is
never read for its hash) and turns byte-identical copies into
"duplicate of <path>" rows. Together with the decoder's verdict, each input
path ends as exactly one row: a track, a quarantine row, or a duplicate row.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from musicflamingo.io import sha256_file

# The folder's own documentation, and the inbox's batch ledger (musicflamingo.inbox.LEDGER).
IGNORED_NAMES = frozenset({"README.md", ".gitkeep", ".batch.json"})


class InputError(Exception):
    """The source itself is unusable (missing folder, unreadable manifest); one line, no traceback."""


@dataclass
class Input:
    path: Path  # what the OS opens (may hold surrogate escapes for non-UTF-8 names)
    display: str  # JSON-safe name for rows: relative to the root where possible
    note: str | None = None  # e.g. "file name is not valid UTF-8"
    sha256: str | None = None


def display_name(path: Path, root: Path | None = None) -> tuple[str, str | None]:
    """A JSON-safe rendering of `path` (undecodable bytes as \\xNN escapes) and a note when it needed one."""
    p = Path(path)
    if root is not None:
        try:
            p = p.relative_to(root)
        except ValueError:
            pass
    raw = os.fsencode(str(p))
    text = raw.decode("utf-8", "backslashreplace")
    try:
        raw.decode("utf-8")
        return text, None
    except UnicodeDecodeError:
        return text, "file name is not valid UTF-8"


def row(display: str, reason: str, stage: str, sha256: str | None = None, note: str | None = None) -> dict:
    """One quarantine / duplicate row (the schema of `QuarantineRow`)."""
    return {"path": display, "reason": reason if note is None else f"{reason} ({note})", "stage": stage, "sha256": sha256}


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:  # a symlink loop, or a folder linked twice: its files are already listed
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            if name not in IGNORED_NAMES:
                found.append(Path(dirpath) / name)
        for name in dirnames:  # a dangling symlink to a folder shows up here, not in filenames
            p = Path(dirpath) / name
            if p.is_symlink() and not p.exists():
                found.append(p)
    # os.walk lists a dangling link to a file among the files, so it gets its row from the prober.
    return found


def collect(source: Path, root: Path | None = None, stage: str = "raw_audio") -> tuple[list[Input], list[dict]]:
    """Inputs under a folder, in a manifest, or one audio file; plus rows for manifest entries that name nothing usable.

    Raises InputError when `source` is neither a folder nor a readable manifest.
    """
    source = Path(source)
    bad: list[dict] = []
    from musicflamingo.audio.loader import AUDIO_SUFFIXES

    if source.is_dir():
        paths = _walk(source)
    elif source.is_file() and source.suffix.lower() in AUDIO_SUFFIXES:
        paths = [source]  # one audio file
    elif source.is_file():
        paths = []
        try:
            lines = source.read_text(encoding="utf-8-sig", errors="surrogateescape").splitlines()  # -sig: a BOM is no data
        except OSError as e:
            raise InputError(f"{source}: cannot read the manifest: {e.strerror}") from e
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = f"{display_name(source)[0]}:{n}"
            if source.suffix == ".jsonl":
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    bad.append(row(where, f"manifest line is not JSON: {e.msg}", stage))
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("path"), str) or not obj["path"].strip():
                    bad.append(row(where, "manifest row has no 'path' string", stage))
                    continue
                line = obj["path"]
            p = Path(line.strip())
            paths.append(p if p.is_absolute() else source.parent / p)
    else:
        raise InputError(f"{source}: no such folder or manifest")
    inputs = []
    for p in dict.fromkeys(paths):  # a path listed twice in a manifest is one input, with one row
        text, note = display_name(p, root)
        inputs.append(Input(p, text, note))
    return inputs, bad


def dedupe(inputs: list[Input], max_file_bytes: int, stage: str) -> tuple[list[Input], list[dict]]:
    """Hash each input (streamed, after the size bound); later byte-identical copies become duplicate rows.

    Inputs that cannot be hashed (missing, not a file, too large) stay in the
    list with `sha256=None`: the prober gives them their specific reason.
    """
    first: dict[str, str] = {}
    keep: list[Input] = []
    dups: list[dict] = []
    for it in inputs:
        try:
            st = it.path.stat()
        except OSError:
            keep.append(it)
            continue
        if not it.path.is_file() or st.st_size == 0 or st.st_size > max_file_bytes:
            keep.append(it)
            continue
        try:
            it.sha256 = sha256_file(it.path)
        except OSError as e:
            dups.append(row(it.display, f"unreadable: {e.strerror}", stage, note=it.note))
            continue
        if it.sha256 in first:
            dups.append(row(it.display, f"duplicate of {first[it.sha256]}", stage, it.sha256, it.note))
            continue
        first[it.sha256] = it.display
        keep.append(it)
    return keep, dups
