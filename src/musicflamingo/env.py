"""The embedded services' environment: everything lives under the project root.

One function builds it so the CLI, the Makefile (`musicflamingo env`),
Dagster's subprocesses and the tests agree on where Dagster, MLflow and DVC
keep their state. Variables already set by the user win, which is how the
same code points at Postgres, an MLflow server or S3 at scale.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def find_root(start: Path | None = None) -> Path:
    """The project root: `$MF_ROOT`, else the nearest folder above with a dvc.yaml."""
    if os.environ.get("MF_ROOT"):
        return Path(os.environ["MF_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    return here


def defaults(root: Path) -> dict[str, str]:
    root = root.resolve()
    venv_bin = str(Path(sys.executable).parent)
    return {
        "MF_ROOT": str(root),
        "DAGSTER_HOME": str(root / ".dagster"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_REGISTRY_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_ARTIFACTS_DESTINATION": (root / "mlartifacts").as_uri(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": os.environ.get("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false"),
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(root / ".cache" / "dvc-site"),
        "TORCH_EXTENSIONS_DIR": str(root / ".cache" / "torch_extensions"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu"),
        # Distributed rendezvous stays on loopback: never listen beyond 127.0.0.1.
        "MASTER_ADDR": "127.0.0.1",
        "GLOO_SOCKET_IFNAME": "lo",
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
    }


def apply(root: Path) -> dict[str, str]:
    """Set the defaults into os.environ (user-set values win, except PATH which is prefixed)."""
    env = defaults(root)
    for key, value in env.items():
        if key == "PATH":
            if not os.environ.get("PATH", "").startswith(value.split(os.pathsep)[0]):
                os.environ["PATH"] = value
        elif key in ("MASTER_ADDR", "GLOO_SOCKET_IFNAME"):
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return env


# SQLite storage is Dagster's default under DAGSTER_HOME; we turn telemetry and the UI's newsletter
# prompt off, and queue runs:
# one at a time here (2 cores, one DVC lock), and never two GPU (training) runs at once.
DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
    tag_concurrency_limits:
      - key: mf/resource
        value: gpu
        limit: 1
      - key: mf/resource
        value: annotation
        limit: 1
"""


@contextmanager
def temporary(**values: str) -> Iterator[None]:
    """Set environment variables for a block, restoring (or removing) them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
