"""Lineage audit: which data, config and code produced a model, and which models saw a track.

Every training run logs its inputs with their DVC md5 and tags its own output
with `output.dvc_md5` (the same hash DVC records in dvc.lock). A model's
chain is therefore found by matching hashes: the run whose output md5 equals
an input md5 is that input's producer. Dataset contents are read back from
the DVC cache by md5, so the answer holds for old versions too, not only for
what is in the workspace now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from musicflamingo import registry
from musicflamingo.tracking import MODEL_NAME

# Files of a dataset whose rows feed training (held-out splits never do).
TRAINING_FILES = {"mf_skills": "train.jsonl", "mf_think": "train.jsonl"}


@dataclass
class Link:
    stage: str
    run_id: str
    git_commit: str
    dagster_run_id: str
    config_artifact: str
    inputs: dict[str, str]  # dependency stage -> DVC md5
    output_md5: str | None
    parents: list["Link"] = field(default_factory=list)


def _client():
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def _link(client, run) -> Link:
    tags = run.data.tags
    inputs = {d.dataset.name: next((t.value for t in d.tags if t.key == "dvc.md5"), "") for d in run.inputs.dataset_inputs}
    return Link(
        stage=tags.get("mf.stage", "?"),
        run_id=run.info.run_id,
        git_commit=tags.get("git.commit", "unknown"),
        dagster_run_id=tags.get("dagster.run_id", "none"),
        config_artifact=f"{run.info.artifact_uri}/config/resolved_params.yaml",
        inputs=inputs,
        output_md5=tags.get("output.dvc_md5"),
    )


def _producer(client, md5: str):
    exps = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exps, filter_string=f"tags.`output.dvc_md5` = '{md5}'", max_results=1, order_by=["attributes.start_time DESC"])
    return runs[0] if runs else None


def chain(client, run) -> Link:
    """The run and, recursively, the runs that produced its model inputs."""
    link = _link(client, run)
    for dep, md5 in link.inputs.items():
        if registry.get(dep).produces == "model":
            parent = _producer(client, md5)
            if parent is not None:
                link.parents.append(chain(client, parent))
    return link


def _walk(link: Link):
    yield link
    for p in link.parents:
        yield from _walk(p)


def aliases_of(client, name: str, version: str) -> list[str]:
    """Aliases pointing at a version (search results omit them, the registered model has them)."""
    return sorted(a for a, v in client.get_registered_model(name).aliases.items() if str(v) == str(version))


def resolve_version(name: str, ref: str):
    client = _client()
    return client.get_model_version(name, ref) if ref.isdigit() else client.get_model_version_by_alias(name, ref)


def dataset_file(root: Path, stage: str, md5: str, filename: str) -> list[dict]:
    """Rows of `filename` inside the DVC-tracked out of `stage` at version `md5` (cache first, then workspace)."""
    cache = root / ".dvc" / "cache" / "files" / "md5"
    manifest = cache / md5[:2] / md5[2:]
    if manifest.is_file():
        entries = json.loads(manifest.read_text())
        entry = next((e for e in entries if e["relpath"] == filename), None)
        if entry is None:
            return []
        path = cache / entry["md5"][:2] / entry["md5"][2:]
    else:
        from musicflamingo.tracking import dvc_md5

        if dvc_md5(root, registry.get(stage).out)[0] != md5:
            raise FileNotFoundError(f"{stage} version {md5} is neither in the DVC cache nor in the workspace; `dvc pull` it")
        path = root / registry.get(stage).out / filename
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_tracks(root: Path, link: Link) -> dict[str, set[str]]:
    """Track ids per (stage:md5) dataset version used for training anywhere in the chain."""
    out: dict[str, set[str]] = {}
    for node in _walk(link):
        if registry.get(node.stage).produces != "model":
            continue
        for dep, md5 in node.inputs.items():
            if dep in TRAINING_FILES and md5:
                rows = dataset_file(root, dep, md5, TRAINING_FILES[dep])
                out[f"{dep}:{md5}"] = {r["track_id"] for r in rows}
    return out


def model_report(root: Path, name: str, ref: str, list_tracks: bool = False) -> dict:
    client = _client()
    mv = resolve_version(name, ref)
    link = chain(client, client.get_run(mv.run_id))
    datasets = training_tracks(root, link)
    tracks = set().union(*datasets.values()) if datasets else set()
    report = {
        "model": name,
        "version": mv.version,
        "aliases": aliases_of(client, name, mv.version),
        "chain": [
            {"stage": n.stage, "mlflow_run_id": n.run_id, "git_commit": n.git_commit, "dagster_run_id": n.dagster_run_id,
             "config": n.config_artifact, "inputs_dvc_md5": n.inputs, "output_dvc_md5": n.output_md5}
            for n in _walk(link)
        ],
        "training_datasets": {k: len(v) for k, v in datasets.items()},
        "track_count": len(tracks),
    }
    if list_tracks:
        report["tracks"] = sorted(tracks)
    return report


def track_report(root: Path, track: str) -> dict:
    """Every dataset version and registered model version whose training data holds `track` (sha256 or path)."""
    from musicflamingo.io import read_jsonl, sha256_file

    track_id = track
    if not (len(track) == 64 and all(c in "0123456789abcdef" for c in track)):
        path = Path(track)
        if path.is_file():
            track_id = sha256_file(path)
        else:
            rows = read_jsonl(root / registry.get("raw_audio").out / "tracks.jsonl")
            match = [r["id"] for r in rows if r["path"] == track or r.get("tags", {}).get("original_path") == track]
            if not match:
                raise FileNotFoundError(f"{track}: not a file, a sha256, or a path in raw_audio/tracks.jsonl")
            track_id = match[0]
    client = _client()
    datasets, models = set(), []
    for mv in client.search_model_versions(f"name='{MODEL_NAME}'"):
        link = chain(client, client.get_run(mv.run_id))
        hits = [k for k, ids in training_tracks(root, link).items() if track_id in ids]
        if hits:
            datasets.update(hits)
            models.append({"model": MODEL_NAME, "version": mv.version, "aliases": aliases_of(client, MODEL_NAME, mv.version), "via": hits})
    return {"track_id": track_id, "dataset_versions": sorted(datasets), "model_versions": sorted(models, key=lambda m: int(m["version"]))}
