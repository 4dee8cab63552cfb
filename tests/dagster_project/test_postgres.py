"""The production Dagster instance (infra/dagster/dagster.postgres.yaml) on a real Postgres.

The test starts a throw-away cluster from the Debian packages (`make apt` installs
`postgresql`), bound to 127.0.0.1 on a free port, with password authentication over TCP,
and points the unmodified production dagster.yaml at it through the environment.
Run storage, event log and schedule storage are exercised through Dagster itself.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
PASSWORD = "dagster-test-only"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("Postgres server binaries missing: `make apt` installs the Debian package `postgresql`")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """(host, port): a fresh cluster with role and database `dagster`, stopped afterwards."""
    bin_dir, port = _pg_bin(), _free_port()
    # initdb refuses to run as root: run the server as the `postgres` system user then.
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="mf-pg-", dir="/tmp"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_pg:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_pg:
        shutil.chown(pwfile, "postgres")

    def run(*cmd, **kw):
        return subprocess.run([*as_pg, *map(str, cmd)], check=True, capture_output=True, text=True, timeout=120, **kw)

    run(bin_dir / "initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
    run(bin_dir / "pg_ctl", "-D", data, "-w", "-t", "60", "-l", base / "log", "start",
        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off")
    try:
        psql = [bin_dir / "psql", "-h", sock, "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c"]
        run(*psql, f"CREATE ROLE dagster LOGIN PASSWORD '{PASSWORD}'")
        run(*psql, "CREATE DATABASE dagster OWNER dagster")
        yield "127.0.0.1", port
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def dagster_home(postgres, tmp_path_factory):
    host, port = postgres
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "infra/dagster/dagster.postgres.yaml", home / "dagster.yaml")
    mp = pytest.MonkeyPatch()
    for key, value in {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": host, "DAGSTER_PG_PORT": str(port),
                       "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": PASSWORD, "DAGSTER_PG_DB": "dagster"}.items():
        mp.setenv(key, value)
    yield home
    mp.undo()


def test_production_instance_uses_postgres_for_every_storage(dagster_home):
    with dg.DagsterInstance.get() as instance:
        kinds = {type(instance.run_storage).__name__, type(instance.event_log_storage).__name__, type(instance.schedule_storage).__name__}
        assert kinds == {"PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"}
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "mf/resource", "value": "gpu", "limit": 1} in limits


def test_runs_and_events_are_stored_in_postgres(dagster_home):
    @dg.asset
    def probe() -> int:
        return 42

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([probe], instance=instance)
        assert result.success
    # A second instance (a new connection) reads back what the first wrote.
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(result.run_id).is_success
        event = instance.get_latest_materialization_event(dg.AssetKey("probe"))
        assert event is not None and event.run_id == result.run_id


def test_schedule_and_sensor_state_are_stored_in_postgres(dagster_home):
    """`dagster schedule/sensor start` on the project's definitions, stored in Postgres."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    env = {**os.environ, "MF_ROOT": str(REPO), "TMPDIR": str(dagster_home)}
    for kind, name in (("schedule", "weekly_retraining"), ("sensor", "new_audio_sensor")):
        out = subprocess.run([dagster, kind, "start", name, "-m", "dagster_project.definitions"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        states = {s.instigator_name: s.status.value for s in instance.all_instigator_state()}
    assert states.get("weekly_retraining") == "RUNNING" and states.get("new_audio_sensor") == "RUNNING", states
