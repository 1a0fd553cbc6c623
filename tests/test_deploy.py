"""Deployment files parse, bind the UIs to loopback, mount corpora read-only, and request GPUs
only for training; the Dockerfile installs the project with the README's line."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def load(rel):
    return yaml.safe_load((REPO / rel).read_text())


def test_yaml_files_parse():
    for path in [*(REPO / "docker").glob("*.yaml"), *(REPO / "deploy").rglob("*.yaml")]:
        assert yaml.safe_load(path.read_text()) is not None, path


def test_compose_services_ports_and_mounts():
    compose = load("docker/compose.yaml")
    services = compose["services"]
    assert {"postgres", "mlflow", "mlflow-db", "code", "webserver", "daemon"} <= set(services)
    for name in ("webserver", "mlflow"):
        assert all(p.startswith("${SER_UI_BIND:-127.0.0.1}:") for p in services[name]["ports"]), name
    assert any(v.endswith(":/corpora:ro") for v in services["code"]["volumes"])
    assert "--backend-store-uri postgresql://" in services["mlflow"]["command"]
    assert "dagster-daemon" in services["daemon"]["command"]


def _compose_cmd():
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_cmd() is None, reason="no docker compose client installed")
@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.gpu.yaml"]])
def test_docker_compose_config_parses(files):
    args = [a for f in files for a in ("-f", str(REPO / "docker" / f))]
    proc = subprocess.run([*_compose_cmd(), *args, "config", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_dockerfile_install_line_is_the_readmes():
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    lines = [m.group(1).strip() for m in re.finditer(r"^RUN (pip install .*-e .*)$", dockerfile, re.M)]
    assert len(lines) == 1, lines
    assert lines[0] in (REPO / "README.md").read_text(), f"README.md must show the install line: {lines[0]}"


def test_only_training_requests_gpus_on_k8s():
    cfg = load("deploy/k8s/k8s_job_executor.yaml")["execution"]["config"]["k8s"]
    per_step = cfg["per_step_k8s_config"]
    assert set(per_step) == {"emotion_model"}
    assert per_step["emotion_model"]["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in str(cfg["step_k8s_config"])
    from ser_pipeline.defs.training import GPU_OP_TAGS, emotion_model

    import json

    tag = emotion_model.op.tags["dagster-k8s/config"]
    assert (json.loads(tag) if isinstance(tag, str) else tag) == GPU_OP_TAGS["dagster-k8s/config"]
    assert emotion_model.op.pool == "gpu"
