"""`musicflamingo run`: materialize the asset graph through Dagster, in this process.

The run is recorded in the repo-local Dagster instance (`$DAGSTER_HOME`), so
it appears in `make ui` exactly as one launched from the UI would.
"""

from __future__ import annotations

import time
from pathlib import Path

from musicflamingo import registry


def materialize_all(root: Path, selection: str = "*") -> bool:
    import dagster as dg

    from dagster_project.definitions import defs

    job = defs.resolve_job_def("pipeline")
    asset_selection = None
    if selection != "*":
        # Dagster's selection syntax, e.g. `+key:mf_think` (with its upstream) or `key:mf_skills+`.
        text = selection if ":" in selection else selection.replace(selection.strip("+"), f"key:{selection.strip('+')}")
        asset_selection = list(dg.AssetSelection.from_string(text).resolve(defs.resolve_asset_graph()))
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, asset_selection=asset_selection, raise_on_error=False)
    elapsed = time.perf_counter() - t0
    _print_summary(root, result, elapsed)
    return result.success


def _print_summary(root: Path, result, elapsed: float) -> None:
    print(f"\nDagster run {result.run_id}: {'SUCCESS' if result.success else 'FAILED'} in {elapsed:.1f} s")
    for ev in result.get_asset_check_evaluations():
        print(f"  check {ev.asset_key.to_user_string()}.{ev.check_name}: {'passed' if ev.passed else 'FAILED'}")
    print("\nOutputs:")
    for s in registry.STAGES:
        out = root / s.out
        state = "ok" if out.exists() else "missing"
        print(f"  {s.name:13s} {out}  [{state}]")
    for extra in ("reports/eval.md", "reports/eval.json", "mlflow.db"):
        if (root / extra).exists():
            print(f"  {'':13s} {root / extra}")
    print(f"\nDagster UI / MLflow UI: `make ui`  (DAGSTER_HOME={root / '.dagster'})")


def dvc_push_and_status(root: Path) -> bool:
    """Push every DVC-tracked output to the remote, then require a clean `dvc status`."""
    import subprocess
    import sys

    dvc = str(Path(sys.executable).with_name("dvc"))
    (root / ".dvc-remote").mkdir(exist_ok=True)
    push = subprocess.run([dvc, "push", "-q"], cwd=root, timeout=1800, check=False)
    status = subprocess.run([dvc, "status"], cwd=root, capture_output=True, text=True, timeout=600, check=False)
    print("\ndvc push:", "ok" if push.returncode == 0 else f"FAILED ({push.returncode})")
    print("dvc status:", status.stdout.strip() or status.stderr.strip())
    clean = "up to date" in status.stdout.lower() and status.returncode == 0
    return push.returncode == 0 and clean
