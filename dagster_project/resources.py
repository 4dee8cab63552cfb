"""Resources shared by the assets and checks."""


import os
from pathlib import Path

import dagster as dg

from musicflamingo import env


class ProjectRoot(dg.ConfigurableResource):
    """Where dvc.yaml, params.yaml, data/ and models/ live (defaults to `$MF_ROOT` or this checkout)."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


def default_root() -> ProjectRoot:
    root = env.find_root(Path(__file__).resolve().parent)
    env.apply(root)
    return ProjectRoot(root=str(root))


class Operations(dg.ConfigurableResource):
    """How the project is operated: the landing zone, batch sizes, retraining threshold, training launcher.

    Every field can come from the environment (see `operations_from_env`), so production
    changes configuration, never code.
    """

    inbox_uri: str = "inbox"
    """Landing zone the new-audio sensor watches: a folder (relative to the root) or `s3://bucket/prefix`."""
    batch_max_files: int = 1000
    settle_s: float = 1.0
    """A file modified within this many seconds may still be uploading; it waits for the next tick."""
    retrain_min_new_tracks: int = 100
    """Retrain once at least this many tracks were annotated since the last retraining request."""
    training_launcher: str = "subprocess"
    """`subprocess` (Dagster Pipes, default) or `k8s` (a Kubernetes Job per training stage, through Pipes)."""
    k8s_image: str = ""
    k8s_namespace: str = "default"
    k8s_job_template: str = "infra/k8s/training-pod.yaml"
    """Pod spec merged into every training Job (GPUs, volumes, service account), relative to the root."""


def operations_from_env() -> Operations:
    e = os.environ
    return Operations(
        inbox_uri=e.get("MF_INBOX_URI", "inbox"),
        batch_max_files=int(e.get("MF_BATCH_MAX_FILES", "1000")),
        settle_s=float(e.get("MF_INBOX_SETTLE_S", "1.0")),
        retrain_min_new_tracks=int(e.get("MF_RETRAIN_MIN_NEW_TRACKS", "100")),
        training_launcher=e.get("MF_TRAINING_LAUNCHER", "subprocess"),
        k8s_image=e.get("MF_K8S_IMAGE", ""),
        k8s_namespace=e.get("MF_K8S_NAMESPACE", "default"),
        k8s_job_template=e.get("MF_K8S_JOB_TEMPLATE", "infra/k8s/training-pod.yaml"),
    )
