"""infra/: what can be validated without a cluster: YAML, the Dagster instance configs, the DVC
remote, and that the production files agree with the code (limits, packages, loopback ports)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from musicflamingo import env
from tests.conftest import REPO

INFRA = REPO / "infra"


def _yaml(path: str):
    return yaml.safe_load((INFRA / path).read_text())


def test_every_infra_yaml_parses():
    files = sorted(INFRA.rglob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        assert list(yaml.safe_load_all(f.read_text())), f


def test_production_dagster_yaml_matches_dagster_schema(tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(INFRA / "dagster/dagster.postgres.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert config["telemetry"]["enabled"] is False


def test_embedded_dagster_yaml_queues_one_gpu_run(tmp_path):
    (tmp_path / "dagster.yaml").write_text(env.DAGSTER_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 1
    assert {"key": "mf/resource", "value": "gpu", "limit": 1} in queue.tag_concurrency_limits


def test_limits_agree_across_dagster_yaml_and_helm_values():
    prod = _yaml("dagster/dagster.postgres.yaml")["concurrency"]["runs"]["tag_concurrency_limits"]
    helm = _yaml("helm/values.yaml")["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert prod == helm
    assert {"key": "mf/resource", "value": "gpu", "limit": 1} in prod


def test_compose_has_the_services_publishes_only_on_loopback_and_keeps_secrets_out():
    compose = _yaml("compose/compose.yaml")
    assert {"postgres", "minio", "mlflow", "dagster-webserver", "dagster-daemon"} <= set(compose["services"])
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        environment = svc.get("environment", {}) or {}
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET", key):
                assert str(value).startswith("${"), (name, key)
    mlflow_cmd = " ".join(compose["services"]["mlflow"]["command"])
    assert "postgresql+psycopg2://" in mlflow_cmd and "--artifacts-destination=s3://" in mlflow_cmd
    daemon = compose["services"]["dagster-daemon"]
    assert daemon["environment"]["DAGSTER_PG_PASSWORD"] == "${POSTGRES_PASSWORD}"


def test_dockerfiles_pin_everything_and_carry_the_makefile_apt_packages():
    makefile = (REPO / "Makefile").read_text()
    apt = set(re.search(r"^APT_PACKAGES := (.+)$", makefile, re.M).group(1).split()) - {"postgresql", "chromium"}
    for name in ("Dockerfile.cpu", "Dockerfile.cuda"):
        text = (INFRA / "docker" / name).read_text()
        for line in re.findall(r"pip install ([^\n\\&]+)", text):
            for req in line.split():
                if not req.startswith(("-", "${", "https://")) and req not in (".", "setuptools", "wheel"):
                    assert "==" in req, (name, req)
        assert re.search(r"^FROM \S+:\S+", text, re.M), name
        missing = {p for p in apt if p not in text and p != "timgm6mb-soundfont"}
        assert not missing, (name, missing)


def test_dvc_s3_remote_config_is_read_by_dvc(tmp_path):
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    shutil.copy(INFRA / "dvc/config.s3", tmp_path / ".dvc/config.local")
    remotes = subprocess.run([dvc, "remote", "list"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert remotes.split()[:2] == ["s3", "s3://music-flamingo/dvc"]
    default = subprocess.run([dvc, "remote", "default"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert default.strip() == "s3"
    endpoint = subprocess.run([dvc, "config", "remote.s3.endpointurl"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert endpoint.strip() == "http://minio:9000"


def test_training_pod_template_requests_gpus_and_shared_memory():
    spec = _yaml("k8s/training-pod.yaml")
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert {"/workspace/data", "/workspace/models", "/dev/shm"} <= {m["mountPath"] for m in container["volumeMounts"]}
    assert spec["restartPolicy"] == "Never"


def test_k8s_launcher_is_selected_by_config_and_needs_an_image():
    from dagster_project.assets import _dvc_repro
    from dagster_project.resources import Operations
    from musicflamingo import registry

    ops = Operations(training_launcher="k8s", k8s_image="")
    with pytest.raises(dg.Failure, match="MF_K8S_IMAGE"):
        _dvc_repro(dg.build_asset_context(), None, registry.get("sft"), REPO, ops=ops)
