"""Rebuild the real-recording corpus (/work/real_audio) from local `fetch` mirrors.

    python benchmarks/real_corpus.py [--csv benchmarks/real_corpus/sources.csv]
        [--mirror /work/.mirror] [--out /work/real_audio] [--only ID ...]

Each row of `sources.csv` names a public GitHub repository, a commit and a path. The file is
read from the bare mirror `<mirror>/<owner>+<name>/repo` with `git show <commit>:<path>`,
its SHA-256 is checked against the CSV, and it is written atomically to `<out>/<file>`.
Published annotations (beats, chords, lyrics) named in the row are restored next to it under
`<out>/annotations/`. Nothing is downloaded: a repository that is not mirrored yet is reported
with the `fetch` source to ask for (the `fetch` tool of this workplace), and skipped.

Prints one line per file that cannot be restored (with its reason), then a summary line.
Exit status: 0 when every selected row is present and verified, 1 otherwise.

`load_sources(csv_path)` is the loader other benchmarks import: one dict per recording with
typed fields (see its docstring); `published_lyrics(row, root)` gives a row's published lyrics
as plain text (for WER). Labels and their provenance are described in
`benchmarks/real_corpus/README.md`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CSV = HERE / "real_corpus" / "sources.csv"
DEFAULT_MIRROR = Path("/work/.mirror")
DEFAULT_OUT = Path("/work/real_audio")
# Bounds for one `git show`: the corpus holds clips and songs of a few MB each.
MAX_BYTES = 200 * 1024 * 1024
GIT_TIMEOUT_S = 120

VOCALS = {"sung", "instrumental", "speech", "unknown"}
# Annotation columns: (repo path column, restored file column).
ANNOTATIONS = (("beats_repo_path", "beats_file"), ("chords_repo_path", "chords_file"),
               ("lyrics_repo_path", "lyrics_published"))


def _float_or_none(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_sources(csv_path: str | os.PathLike = DEFAULT_CSV) -> list[dict]:
    """Read the corpus catalogue.

    Returns one dict per row, in CSV order, with every CSV column as a string except:
    `duration_s`, `tempo_bpm`, `rms_dbfs`, `peak_dbfs` -> float or None (seconds, BPM, dBFS);
    `run_subset` -> bool. Empty label cells mean "no published label" (never "absent").
    `vocals` is one of sung | instrumental | speech | unknown.

    Raises ValueError on a row with an unknown `vocals` value, a duplicate `id`, or a missing
    required column (id, file, repo, commit, repo_path, sha256, vocals).
    """
    rows: list[dict] = []
    seen: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        required = {"id", "file", "repo", "commit", "repo_path", "sha256", "vocals"}
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            if row["id"] in seen:
                raise ValueError(f"{csv_path}:{line}: duplicate id {row['id']!r}")
            seen.add(row["id"])
            if row["vocals"] not in VOCALS:
                raise ValueError(f"{csv_path}:{line}: vocals {row['vocals']!r} not in {sorted(VOCALS)}")
            for key in ("duration_s", "tempo_bpm", "rms_dbfs", "peak_dbfs"):
                row[key] = _float_or_none(row.get(key, "") or "")
            row["run_subset"] = (row.get("run_subset") or "0").strip() == "1"
            rows.append(row)
    return rows


# UltraStar note lines: type, start beat, length, pitch, syllable (a leading space starts a new word).
_ULTRASTAR_NOTE = re.compile(r"^[:*FRG] -?\d+ \d+ -?\d+ ?(.*)$")


def ultrastar_lyrics(text: str) -> str:
    """Plain lyrics from an UltraStar karaoke file (the `song.txt` format of UltraStar Deluxe).

    Joins the syllables of note lines (`:`, `*` golden, `F` freestyle, `R`/`G` rap), breaks lines
    at `-` phrase ends, drops `~` (a held syllable) and headers (`#TITLE:` ...), stops at `E`.
    Returns one phrase per line; empty when the file holds no notes.
    """
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("E"):
            break
        match = _ULTRASTAR_NOTE.match(line)
        if match:
            current += match.group(1).replace("~", "")
        elif line.startswith("-") and current.strip():
            lines.append(" ".join(current.split()))
            current = ""
    if current.strip():
        lines.append(" ".join(current.split()))
    return "\n".join(lines)


def published_lyrics(row: dict, root: str | os.PathLike = DEFAULT_OUT) -> str | None:
    """The published lyrics of a recording as plain text (one line per phrase), or None when the
    source publishes none. UltraStar karaoke files (`*.ultrastar.txt`) are converted with
    `ultrastar_lyrics`; other lyrics files are returned as stored."""
    rel = row.get("lyrics_published")
    if not rel:
        return None
    text = (Path(root) / rel).read_text(encoding="utf-8", errors="replace")
    return ultrastar_lyrics(text) if rel.endswith(".ultrastar.txt") else text.strip()


def mirror_git_dir(mirror: Path, repo: str) -> Path:
    """Bare repository that `fetch github:<repo>` leaves: <mirror>/<owner>+<name>/repo."""
    return mirror / repo.replace("/", "+") / "repo"


def read_blob(git_dir: Path, commit: str, path: str) -> bytes:
    """Bytes of `<commit>:<path>`; raises LookupError with a one-line reason when unavailable."""
    spec = f"{commit}:{path}"
    try:
        size = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-s", spec], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LookupError(f"git cat-file timed out after {GIT_TIMEOUT_S} s") from None
    if size.returncode != 0:
        # Large blobs can be listed in a snapshot's tree yet be absent from its object store.
        why = size.stderr.strip().splitlines()[-1] if size.stderr.strip() else "missing"
        raise LookupError(f"{spec} not in mirror ({why})")
    if int(size.stdout) > MAX_BYTES:
        raise LookupError(f"{spec} is {int(size.stdout)} bytes, over the {MAX_BYTES} byte bound")
    try:
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", spec], capture_output=True,
                              timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LookupError(f"git cat-file timed out after {GIT_TIMEOUT_S} s") from None
    if blob.returncode != 0:
        raise LookupError(f"{spec}: {blob.stderr.decode(errors='replace').strip()}")
    return blob.stdout


def write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def restore_row(row: dict, mirror: Path, out: Path) -> str:
    """Restore one recording and its annotations. Returns 'present' or 'restored'; raises LookupError."""
    dest = out / row["file"]
    git_dir = mirror_git_dir(mirror, row["repo"])
    status = "present"
    if not (dest.is_file() and sha256_file(dest) == row["sha256"]):
        if not git_dir.is_dir():
            raise LookupError(f"no mirror at {git_dir} (ask `fetch` for github:{row['repo']})")
        data = read_blob(git_dir, row["commit"], row["repo_path"])
        digest = hashlib.sha256(data).hexdigest()
        if digest != row["sha256"]:
            raise LookupError(f"sha256 mismatch: mirror gives {digest[:12]}, CSV says {row['sha256'][:12]}")
        write_atomic(dest, data)
        status = "restored"
    for repo_col, file_col in ANNOTATIONS:
        if row.get(repo_col) and row.get(file_col) and not (out / row[file_col]).is_file():
            if not git_dir.is_dir():
                raise LookupError(f"annotation {row[file_col]}: no mirror at {git_dir}")
            write_atomic(out / row[file_col], read_blob(git_dir, row["commit"], row[repo_col]))
            status = "restored"
    return status


def summary(rows: list[dict]) -> list[str]:
    """Lines describing the catalogue: counts by vocals label, GM family, format, repository and
    licence class, the annotated files, the run subset and total durations (minutes)."""
    from collections import Counter

    def line(title: str, counter: Counter) -> str:
        return f"{title}: " + ", ".join(f"{k or '(none)'} {v}" for k, v in counter.most_common())

    def licence_class(text: str) -> str:
        low = text.lower()
        if "unclear" in low:
            return "unclear (local benchmarking only)"
        if re.search(r"\bby-nc|non-?commercial", low):
            return "non-commercial CC"
        return "public domain / CC0 / CC BY(-SA) / permissive"

    subset = [r for r in rows if r["run_subset"]]
    minutes = sum(r["duration_s"] or 0.0 for r in rows) / 60
    return [
        f"recordings: {len(rows)}, {minutes:.1f} min",
        line("vocals", Counter(r["vocals"] for r in rows)),
        line("content", Counter(r.get("content", "") for r in rows)),
        line("instrument family (GM)", Counter(r["instrument_family"] for r in rows if r.get("instrument_family"))),
        line("solo-instrument recordings by GM family",
             Counter(r.get("instrument_family", "") for r in rows if r.get("solo_instrument") == "1")),
        line("format", Counter(r.get("format", "") for r in rows)),
        line("repository", Counter(r.get("repo", "") for r in rows)),
        line("licence", Counter(licence_class(r.get("licence", "")) for r in rows)),
        "annotated: " + ", ".join(f"{k} {sum(1 for r in rows if r.get(k))}"
                                  for k in ("tempo_bpm", "key", "beats_file", "chords_file", "lyrics_published")),
        f"run_subset: {len(subset)} files, {sum(r['duration_s'] or 0.0 for r in subset) / 60:.1f} min, "
        + line("formats", Counter(r.get("format", "") for r in subset)),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Labels and licences: benchmarks/real_corpus/README.md")
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"catalogue (default {DEFAULT_CSV})")
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help=f"fetch mirrors (default {DEFAULT_MIRROR})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus folder (default {DEFAULT_OUT})")
    ap.add_argument("--only", nargs="*", default=None, metavar="ID", help="restore only these ids")
    ap.add_argument("--summary", action="store_true", help="print what the catalogue holds and exit (no restore)")
    args = ap.parse_args(argv)

    try:
        rows = load_sources(args.csv)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.only:
        unknown = set(args.only) - {r["id"] for r in rows}
        if unknown:
            print(f"error: unknown ids {sorted(unknown)}", file=sys.stderr)
            return 1
        rows = [r for r in rows if r["id"] in set(args.only)]
    if args.summary:
        print("\n".join(summary(rows)))
        return 0

    counts = {"present": 0, "restored": 0, "failed": 0}
    seconds = 0.0
    for row in rows:
        try:
            counts[restore_row(row, args.mirror, args.out)] += 1
            seconds += row["duration_s"] or 0.0
        except (LookupError, OSError) as exc:
            counts["failed"] += 1
            print(f"cannot restore {row['id']}: {exc}")
    # Keep a copy of the catalogue next to the audio so the folder describes itself.
    if not args.only and counts["failed"] == 0:
        write_atomic(args.out / "sources.csv", args.csv.read_bytes())
    print(f"{len(rows)} rows: {counts['present']} already present, {counts['restored']} restored, "
          f"{counts['failed']} failed; {seconds / 60:.1f} min of audio in {args.out}")
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
