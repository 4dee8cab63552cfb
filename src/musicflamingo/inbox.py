"""Incremental ingest: new audio in a landing zone becomes an ingest batch.

A batch is the unit of incremental work (one Dagster dynamic partition):

1. `claim_new_batch` lists the landing zone (a local folder, or an S3 prefix
   `s3://bucket/prefix`), keeps files not claimed before (by key, size and
   mtime) that have stopped changing, and writes `batches/<id>/`: the batch's
   `dvc.yaml` (generated from the registry), links to the project's
   `params.yaml` and `.cache/`, and last, atomically, `manifest.json`, which
   is the claim itself. Nothing is copied yet, so a sensor tick stays cheap.
2. `ingest` copies (or downloads) the manifest's files into
   `audio_in/<id>/`, skipping files whose content an earlier batch already
   brought (each skip is recorded with its reason in `.batch.json`).
3. DVC then runs the registry's data stages inside `batches/<id>/` on that
   batch only; `audio_in/` as a whole stays the input of the project-level
   pipeline, which therefore trains on every batch present at launch and
   finds the batches' MIR results in the shared per-track cache.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from musicflamingo import dvcgen
from musicflamingo.io import read_json, sha256_file, sha256_text, write_json

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")
IGNORED_NAMES = {"README.md", ".gitkeep"}
MANIFEST = "manifest.json"
LEDGER = ".batch.json"


@dataclass(frozen=True)
class Item:
    key: str
    """Path relative to the landing folder, or the S3 object key."""
    size: int
    mtime: float

    @property
    def fingerprint(self) -> str:
        return f"{self.key}|{self.size}|{self.mtime:.3f}"


def _is_candidate(name: str) -> bool:
    return not (name in IGNORED_NAMES or name.startswith(".") or name.endswith(IGNORED_SUFFIXES))


def _landing(root: Path, uri: str) -> Path:
    path = Path(uri)
    return path if path.is_absolute() else root / path


def list_source(root: Path, uri: str) -> list[Item]:
    """Every candidate file in the landing zone, sorted by key."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[5:].partition("/")
        items = []
        for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith("/") and _is_candidate(key.rsplit("/", 1)[-1]):
                    items.append(Item(key, int(obj["Size"]), obj["LastModified"].timestamp()))
        return sorted(items, key=lambda i: i.key)
    folder = _landing(root, uri)
    if not folder.is_dir():
        return []
    items = []
    for path in folder.rglob("*"):
        if path.is_file() and _is_candidate(path.name):
            st = path.stat()
            items.append(Item(path.relative_to(folder).as_posix(), st.st_size, st.st_mtime))
    return sorted(items, key=lambda i: i.key)


def _s3():
    # boto3 is a production-only dependency (infra/docker); credentials come from the usual AWS env vars.
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                        config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}))


def batches_dir(root: Path) -> Path:
    return root / dvcgen.BATCHES_DIR


def claimed_batches(root: Path) -> list[str]:
    """Batch ids with a manifest (claimed), oldest first."""
    folder = batches_dir(root)
    return sorted(p.parent.name for p in folder.glob(f"*/{MANIFEST}")) if folder.is_dir() else []


def ingested_batches(root: Path) -> list[str]:
    """Batch ids whose audio is in `audio_in/` (what the project-level pipeline trains on)."""
    folder = root / "audio_in"
    return sorted(p.parent.name for p in folder.glob(f"*/{LEDGER}")) if folder.is_dir() else []


def _claimed_fingerprints(root: Path) -> set[str]:
    return {fp for b in claimed_batches(root) for fp in read_json(batches_dir(root) / b / MANIFEST)["fingerprints"]}


def claim_new_batch(root: Path, uri: str, max_files: int = 1000, settle_s: float = 1.0, now: float | None = None) -> str | None:
    """Claim the landing zone's new, settled files as one batch; return its id, or None if nothing is new.

    Files modified within `settle_s` may still be uploading and wait for the next call.
    """
    now = time.time() if now is None else now
    done = _claimed_fingerprints(root)
    new = [i for i in list_source(root, uri) if i.fingerprint not in done and now - i.mtime >= settle_s][:max_files]
    if not new:
        return None
    fingerprints = [i.fingerprint for i in new]
    batch_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + sha256_text("\n".join(fingerprints))[:8]
    folder = batches_dir(root) / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dvc.yaml").write_text(dvcgen.render_batch(batch_id), encoding="utf-8")
    for name in ("params.yaml", ".cache"):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(Path("../..") / name)
    (root / ".cache").mkdir(exist_ok=True)
    write_json(folder / MANIFEST, {"batch": batch_id, "source": uri, "claimed_at": now,
                                   "items": [asdict(i) for i in new], "fingerprints": fingerprints})
    return batch_id


def ingest(root: Path, batch_id: str, max_file_bytes: int = 2_000_000_000) -> dict:
    """Bring a claimed batch's files into `audio_in/<id>/` (idempotent); return the ledger.

    Content already brought by another batch is skipped with a reason, never silently.
    """
    target = root / "audio_in" / batch_id
    if (target / LEDGER).exists():
        return read_json(target / LEDGER)
    manifest = read_json(batches_dir(root) / batch_id / MANIFEST)
    known = {sha: b for b in ingested_batches(root) for sha in read_json(root / "audio_in" / b / LEDGER)["sha256"]}
    staging = target.with_name(f".{batch_id}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shas: dict[str, str] = {}
    skipped: list[dict] = []
    for item in map(lambda d: Item(**d), manifest["items"]):
        if item.size > max_file_bytes:
            skipped.append({"key": item.key, "reason": f"larger than {max_file_bytes} bytes"})
            continue
        dest = staging / item.key
        dest.parent.mkdir(parents=True, exist_ok=True)
        if manifest["source"].startswith("s3://"):
            bucket, _, _ = manifest["source"][5:].partition("/")
            _s3().download_file(bucket, item.key, str(dest))
        else:
            src = _landing(root, manifest["source"]) / item.key
            if not src.exists():
                skipped.append({"key": item.key, "reason": "vanished from the landing zone before ingest"})
                continue
            shutil.copyfile(src, dest)
        sha = sha256_file(dest)
        if sha in known or sha in shas.values():
            skipped.append({"key": item.key, "reason": f"same content as a track of batch {known.get(sha, batch_id)}"})
            dest.unlink()
            continue
        shas[item.key] = sha
    ledger = {"batch": batch_id, "files": sorted(shas), "sha256": sorted(shas.values()), "skipped": skipped}
    write_json(staging / LEDGER, ledger)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # the batch appears in audio_in/ whole or not at all
    return ledger


def annotated_tracks(root: Path) -> dict[str, int]:
    """Tracks annotated per batch so far (from each batch's mir_metadata summary)."""
    counts = {}
    for b in claimed_batches(root):
        summary = batches_dir(root) / b / "metrics" / "mir_metadata.json"
        if summary.exists():
            counts[b] = int(read_json(summary).get("tracks", 0))
    return counts
