"""`make ui`: Dagster (webserver + daemon) and the MLflow UI, both on 127.0.0.1.

Ports: MF_DAGSTER_PORT (default 3000) and MF_MLFLOW_PORT (default 5000).
Ctrl-C stops both process trees cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from musicflamingo import env


def _spawn(cmd: list[str], root: Path) -> subprocess.Popen:
    # A child started from a script can inherit SIGINT as ignored and then
    # ignore SIGTERM too; restore the default handlers before exec.
    def restore():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()

    return subprocess.Popen(cmd, cwd=root, preexec_fn=restore)


def _stop(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Started in the background by a script, this process inherits SIGINT as ignored: take
    # Ctrl-C (SIGINT) and SIGTERM back, so both stop the services cleanly.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    root = env.find_root()
    env.apply(root)
    bin_dir = Path(sys.executable).parent
    dagster_port = os.environ.get("MF_DAGSTER_PORT", "3000")
    mlflow_port = os.environ.get("MF_MLFLOW_PORT", "5000")
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    (root / ".cache" / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(root / ".cache" / "tmp")  # Dagster's code-server sockets
    procs = [
        _spawn([str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", dagster_port, "-m", "dagster_project.definitions"], root),
        _spawn([str(bin_dir / "mlflow"), "ui", "--host", "127.0.0.1", "--port", mlflow_port, "--workers", "1",
                "--backend-store-uri", os.environ["MLFLOW_TRACKING_URI"], "--default-artifact-root", os.environ["MLFLOW_ARTIFACTS_DESTINATION"]], root),
    ]
    print(f"Dagster: http://127.0.0.1:{dagster_port}   MLflow: http://127.0.0.1:{mlflow_port}   (Ctrl-C to stop)", flush=True)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        deadline = time.time() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
