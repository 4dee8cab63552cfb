"""The UIs, checked in a real browser: headless Chromium from Debian, driven by Playwright.

`python -m musicflamingo.ui` (what `make ui` runs) starts Dagster and MLflow on 127.0.0.1 for a
throw-away project root. The test finds the nine assets in the Dagster asset graph, launches a
materialization of `raw_audio` from the UI and waits for it to succeed, finds the registered model
in the MLflow UI, saves screenshots (under reports/screenshots/ with MF_UPDATE_SCREENSHOTS=1, else a temp folder), and stops the UIs with Ctrl-C.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from musicflamingo import dvcgen, env, registry
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
# The committed screenshots change only on request (MF_UPDATE_SCREENSHOTS=1): `make test` leaves the tree clean.
SHOTS = REPO / "reports" / "screenshots" if os.environ.get("MF_UPDATE_SCREENSHOTS") else Path(os.environ.get("TMPDIR", "/tmp")) / "mf_screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    from musicflamingo.config import compose, write_params

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium missing: `make apt` installs it")
    root = tmp_path_factory.mktemp("ui_project")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    (root / "audio_in").mkdir()
    dvcgen.write(root)
    write_params(compose(["experiment=smoke", "data.demo.num_pieces=1", "data.demo.max_seconds=8"]), root)
    child_env = {**os.environ, **env.defaults(root), "MF_DAGSTER_PORT": str(_free_port()), "MF_MLFLOW_PORT": str(_free_port())}
    subprocess.run([str(Path(sys.executable).with_name("dvc")), "init", "--no-scm", "-q"], cwd=root, check=True, env=child_env)
    _register_tiny_model(root, child_env)
    proc = subprocess.Popen([sys.executable, "-m", "musicflamingo.ui"], cwd=root, env=child_env, start_new_session=True,
                            stdout=open(root / "ui.log", "w"), stderr=subprocess.STDOUT)
    urls = {"dagster": f"http://127.0.0.1:{child_env['MF_DAGSTER_PORT']}", "mlflow": f"http://127.0.0.1:{child_env['MF_MLFLOW_PORT']}"}
    try:
        _wait_http(urls["dagster"] + "/server_info", 90)
        _wait_http(urls["mlflow"] + "/health", 60)
        yield root, urls, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in `make ui` sends
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise


def _register_tiny_model(root: Path, child_env: dict) -> None:
    """A real (tiny) MLflow model, logged and registered in the project's own store."""
    code = (
        "import mlflow, mlflow.pyfunc\n"
        "class Echo(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input):\n"
        "        return model_input\n"
        "with mlflow.start_run(run_name='browser-test'):\n"
        "    info = mlflow.pyfunc.log_model(name='model', python_model=Echo(), pip_requirements=['mlflow'])\n"
        "mv = mlflow.register_model(info.model_uri, 'music-flamingo')\n"
        "mlflow.MlflowClient().set_registered_model_alias('music-flamingo', 'grpo', mv.version)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, env=child_env, check=True, timeout=180, capture_output=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1600, "height": 1000})
        yield page
        b.close()


def test_asset_graph_shows_the_nine_assets(ui, browser):
    root, urls, _ = ui
    page = browser
    page.goto(urls["dagster"] + "/asset-groups", wait_until="domcontentloaded")
    page.get_by_text("Global asset lineage").first.wait_for(timeout=60_000)
    # The global graph starts with groups collapsed; its context menu expands them.
    menu_item = page.locator("[role=menu]").get_by_text("Expand all groups")
    deadline = time.time() + 60
    while not menu_item.count() and time.time() < deadline:
        page.mouse.click(1400, 900, button="right")
        time.sleep(1)
    menu_item.first.click()
    for stage in registry.STAGES:
        page.get_by_text(stage.name, exact=True).first.wait_for(timeout=60_000)
    time.sleep(1)  # let the graph finish its layout animation before the picture
    page.screenshot(path=str(SHOTS / "asset_graph.png"), full_page=True)
    names = [s.name for s in registry.STAGES if page.get_by_text(s.name, exact=True).count() >= 1]
    assert names == [s.name for s in registry.STAGES]


def test_materialize_raw_audio_from_the_ui(ui, browser):
    import dagster as dg

    root, urls, _ = ui
    page = browser
    page.goto(urls["dagster"] + "/assets/raw_audio", wait_until="domcontentloaded")
    page.locator("button").filter(has_text="Materialize").first.click(timeout=60_000)
    # The run is queued, started by the daemon, and shows up in the run list.
    deadline = time.time() + 150
    status = None
    while time.time() < deadline:
        with env.temporary(DAGSTER_HOME=str(root / ".dagster")), dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            status = runs[0].status if runs else None
        if status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            break
        time.sleep(2)
    assert status == dg.DagsterRunStatus.SUCCESS, (status, (root / "ui.log").read_text()[-3000:])
    page.goto(urls["dagster"] + f"/runs/{runs[0].run_id}", wait_until="domcontentloaded")
    page.get_by_text("Success", exact=False).first.wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "raw_audio_run.png"))
    assert (root / "data/raw_audio/tracks.jsonl").exists() and (root / "dvc.lock").exists()


def test_mlflow_ui_lists_the_registered_model(ui, browser):
    root, urls, _ = ui
    page = browser
    page.goto(urls["mlflow"] + "/#/models", wait_until="domcontentloaded")
    page.get_by_text("music-flamingo", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("grpo", exact=False).first.wait_for(timeout=30_000)  # the alias column
    time.sleep(1)
    page.keyboard.press("Escape")  # MLflow's "new Model Registry UI" announcement, if it is up
    time.sleep(1)
    page.screenshot(path=str(SHOTS / "mlflow_models.png"))


def test_ctrl_c_stops_both_uis(ui):
    root, urls, proc = ui
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    for url in urls.values():
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
