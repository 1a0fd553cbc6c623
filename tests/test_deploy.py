"""The deployment files: docker/ (image, compose, instance) and deploy/k8s/ (Helm values, executor config).

Nothing here needs a Docker daemon or a cluster. The `docker compose config` check runs only where a
compose client is installed and is skipped with the reason otherwise.
"""

import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
COMPOSE_GPU = DOCKER / "compose.gpu.yaml"
K8S = REPO / "deploy" / "k8s"
K8S_EXECUTOR = K8S / "k8s_job_executor.yaml"
K8S_EXECUTOR_OBJECT_STORAGE = K8S / "k8s_job_executor_object_storage.yaml"
K8S_VALUES = K8S / "values.yaml"
K8S_VALUES_OBJECT_STORAGE = K8S / "values-object-storage.yaml"
K8S_MLFLOW_OBJECT_STORAGE = K8S / "mlflow-object-storage.yaml"
DEPLOY_YAML = sorted([*DOCKER.glob("*.yaml"), *(REPO / "deploy").rglob("*.yaml")])

GPU = "nvidia.com/gpu"
SECRETS = {"POSTGRES_PASSWORD", "MLFLOW_DB_PASSWORD"}  # what compose must refuse to start without
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN", re.I)


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin), else the standalone `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _fields(spec) -> list[str]:
    """Split a short-syntax port or volume on ":" outside ``${...}``:
    "${A:-127.0.0.1}:3000:3000" -> ["${A:-127.0.0.1}", "3000", "3000"]."""
    parts, depth, cur = [], 0, ""
    for ch in str(spec):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == ":" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_env(**secrets: str) -> dict[str, str]:
    """This process's environment without SER_/COMPOSE_ settings or the compose secrets, plus ``secrets``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SER_", "COMPOSE_")) and k not in SECRETS}
    return {**env, **secrets}


def _strings(obj, path=()):
    """(key path, string) for every string in a nested dict/list (dict keys included in the path)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(v, (*path, str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _strings(v, (*path, str(i)))
    elif isinstance(obj, str):
        yield path, obj


def _service(compose: dict, needle: str) -> tuple[str, dict]:
    """The service whose command contains ``needle`` (e.g. "dagster-webserver")."""
    for name, svc in compose["services"].items():
        cmd = svc.get("command", [])
        if needle in (cmd if isinstance(cmd, str) else " ".join(map(str, cmd))):
            return name, svc
    raise AssertionError(f"no compose service runs {needle!r}")


def _find_key(obj, key: str) -> list:
    """Every value stored under ``key`` anywhere in a nested dict/list."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                found.append(v)
            found.extend(_find_key(v, key))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(_find_key(v, key))
    return found


def _helm_merge(base: dict, overlay: dict) -> dict:
    """Values as Helm combines two `-f` files: maps merge key by key, a later list or scalar replaces
    the earlier one, and a null deletes the key."""
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _object_storage_values() -> dict:
    """`helm -f deploy/k8s/values.yaml -f deploy/k8s/values-object-storage.yaml`, merged."""
    return _helm_merge(yaml.safe_load(K8S_VALUES.read_text()), yaml.safe_load(K8S_VALUES_OBJECT_STORAGE.read_text()))


def _user_deployment(values: dict) -> dict:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def _env(container: dict) -> dict[str, dict]:
    """A container's (or chart deployment's) `env` list as {name: entry}."""
    return {e["name"]: e for e in container.get("env") or []}


def _manifest(kind: str, name: str) -> dict:
    """The object of ``kind``/``name`` in deploy/k8s/mlflow-object-storage.yaml."""
    for doc in yaml.safe_load_all(K8S_MLFLOW_OBJECT_STORAGE.read_text()):
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name!r} in {K8S_MLFLOW_OBJECT_STORAGE.relative_to(REPO)}")


def _full_pipeline_op_names() -> set[str]:
    from ser_pipeline.definitions import defs

    return {n.name for n in defs.resolve_job_def("full_pipeline").graph.node_defs}


def dockerfile_install_line() -> str:
    """The Dockerfile's project install command (the `RUN pip install ... -e ...` line), without RUN."""
    lines = [ln.strip() for ln in (DOCKER / "Dockerfile").read_text().splitlines()]
    installs = [ln[len("RUN "):].strip() for ln in lines
                if ln.startswith("RUN pip install") and re.search(r"\s-e\s", ln)]
    assert len(installs) == 1, f"expected one `RUN pip install ... -e ...` line in docker/Dockerfile, found {installs}"
    return installs[0]


# --------------------------------------------------------------------------------------- compose
@pytest.mark.parametrize("files", [[COMPOSE], [COMPOSE, COMPOSE_GPU]], ids=["cpu", "gpu"])
def test_compose_config_parses(files, tmp_path):
    """`docker compose -f docker/compose.yaml config` accepts the file (and the GPU override)."""
    cmd = _compose_command()
    if cmd is None:
        pytest.skip("no docker client with compose (neither `docker compose` nor `docker-compose`) installed")
    env = _compose_env(POSTGRES_PASSWORD="pg-secret-4711", MLFLOW_DB_PASSWORD="ml-secret-0815")
    args = [*cmd, *[a for f in files for a in ("-f", str(f))], "config"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stderr}"
    rendered = yaml.safe_load(out.stdout)
    assert {"postgres", "mlflow", "code", "webserver", "daemon"} <= set(rendered["services"])
    for name, svc in rendered["services"].items():  # the secrets reach environments, never a command line
        cmd_line = " ".join(map(str, svc.get("command") or []))
        assert "pg-secret-4711" not in cmd_line and "ml-secret-0815" not in cmd_line, f"{name}: {cmd_line}"
    assert rendered["services"]["mlflow"]["environment"]["PGPASSWORD"] == "ml-secret-0815"
    assert rendered["services"]["code"]["environment"]["DAGSTER_POSTGRES_PASSWORD"] == "pg-secret-4711"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(missing):
    """`docker compose config` (what `up` runs first) stops with the variable's name when it is unset."""
    cmd = _compose_command()
    if cmd is None:
        pytest.skip("no docker client with compose (neither `docker compose` nor `docker-compose`) installed")
    env = _compose_env(**{s: "x-secret" for s in SECRETS - {missing}})
    out = subprocess.run([*cmd, "-f", str(COMPOSE), "config"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode != 0 and missing in out.stderr, out.stderr


def test_compose_has_no_default_secret():
    """Every secret-named setting is a required variable (`${VAR:?message}`), no literal or `:-` default;
    no command line carries a secret (a password in a URI, a secret variable)."""
    compose = _compose()
    refs = re.compile(r"\$\{([A-Z0-9_]+)([^}]*)\}")
    for path, text in _strings(compose):
        for var, rest in refs.findall(text):
            if SECRET_KEY.search(var):
                assert rest.startswith(":?") and len(rest) > 2, f"{'.'.join(path)}: ${{{var}{rest}}} is not required with a message"
        if path and SECRET_KEY.search(path[-1]):
            assert refs.fullmatch(text) and refs.fullmatch(text).group(2).startswith(":?"), (
                f"{'.'.join(path)} = {text!r}: a secret must come from a required variable")
    for name, svc in compose["services"].items():
        for arg in map(str, svc.get("command") or []):
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", arg), f"{name}: password in a URI on the command line: {arg}"
            assert not any(SECRET_KEY.search(v) for v, _ in refs.findall(arg)), f"{name}: secret on the command line: {arg}"
    assert {v for _, t in _strings(compose) for v, _ in refs.findall(t) if SECRET_KEY.search(v)} == SECRETS
    # the MLflow server still gets its database password, through libpq's environment variable
    _, mlflow = _service(compose, "mlflow server")
    assert "MLFLOW_DB_PASSWORD:?" in mlflow["environment"]["PGPASSWORD"]


def test_k8s_values_reference_kubernetes_secrets():
    """The Helm values carry no password: the chart and its bundled Postgres read an existing Secret."""
    values = _object_storage_values()  # the base values with the object-storage overlay on top
    secret = values["global"]["postgresqlSecretName"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["postgresql"].get("existingSecret") == secret
    for path in (K8S_VALUES, K8S_VALUES_OBJECT_STORAGE, K8S_MLFLOW_OBJECT_STORAGE):
        for doc in yaml.safe_load_all(path.read_text()):
            leaked = [".".join(p) for p, _ in _strings(doc) if p and SECRET_KEY.search(p[-1]) and not p[-1].endswith(
                ("SecretName", "existingSecret", "Secrets"))]
            assert not leaked, f"secret values in {path.relative_to(REPO)}: {leaked}"
    for path in DEPLOY_YAML:
        assert "change-me" not in path.read_text(), f"{path} still carries a placeholder password"


@pytest.mark.parametrize("path", DEPLOY_YAML, ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_parses(path):
    docs = list(yaml.safe_load_all(path.read_text()))  # a kubectl manifest may hold several documents
    assert docs and all(isinstance(d, dict) for d in docs), f"{path} is not a YAML mapping (or a list of them)"


def test_compose_has_every_service():
    compose = _compose()
    assert "postgres" in compose["services"], "no Postgres service for Dagster storage"
    _service(compose, "mlflow server")
    _service(compose, "dagster code-server start")
    _service(compose, "dagster-webserver")
    _service(compose, "dagster-daemon run")


def test_mlflow_uses_postgres_backend_and_artifact_volume():
    _, mlflow = _service(_compose(), "mlflow server")
    cmd = mlflow["command"]
    backend = cmd[cmd.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql://"), f"MLflow backend store is {backend!r}, expected postgresql://"
    dest = cmd[cmd.index("--artifacts-destination") + 1]
    assert any(_fields(v)[1] == dest for v in mlflow["volumes"]), (
        f"--artifacts-destination {dest} is not on a mounted volume: {mlflow['volumes']}")


@pytest.mark.parametrize("needle", ["dagster-webserver", "mlflow server"])
def test_uis_publish_on_localhost_by_default(needle):
    """Published ports bind 127.0.0.1 unless SER_UI_BIND says otherwise."""
    name, svc = _service(_compose(), needle)
    ports = svc.get("ports", [])
    assert ports, f"service {name} publishes no port"
    for p in ports:
        host = _fields(p)[0]
        assert host in ("127.0.0.1", "${SER_UI_BIND:-127.0.0.1}"), f"{name} publishes {p!r}: found {host}, expected 127.0.0.1"


def test_corpora_mounted_read_only_and_env_set():
    compose = _compose()
    name, svc = _service(compose, "dagster code-server start")
    mounts = [v for v in svc["volumes"] if _fields(v)[1] == "/corpora"]
    assert mounts and all(str(m).endswith(":ro") for m in mounts), f"{name}: corpora mount {mounts} is not read-only"
    env = svc["environment"]
    assert env["SER_CORPORA_ROOT"] == "/corpora"
    assert env["SER_DATA_DIR"] == "/data"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    for svc in compose["services"].values():
        for v in svc.get("volumes", []):
            if _fields(v)[1:2] == ["/corpora"]:
                assert str(v).endswith(":ro"), f"corpora mounted writable: {v}"


def test_gpu_override_reserves_nvidia_devices_for_the_code_server():
    override = yaml.safe_load(COMPOSE_GPU.read_text())
    devices = override["services"]["code"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices), devices


def test_workspace_points_at_the_code_server():
    ws = yaml.safe_load((DOCKER / "workspace.yaml").read_text())
    grpc = ws["load_from"][0]["grpc_server"]
    name, code = _service(_compose(), "dagster code-server start")
    assert grpc["host"] == name
    assert str(grpc["port"]) == code["command"][code["command"].index("-p") + 1]


def test_instance_uses_postgres_queue_and_gpu_pool_limit():
    inst = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    assert "postgres" in inst["storage"]
    assert inst["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert inst["concurrency"]["pools"]["default_limit"] == 1
    assert inst["run_monitoring"]["enabled"] is True


# --------------------------------------------------------------------------------------- image
def test_dockerfile_variants_user_and_home():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^ARG VARIANT=cpu$", text, re.M)
    assert re.search(r"^FROM python:3\.11-slim AS base-cpu$", text, re.M)
    assert re.search(r"^FROM \$\{CUDA_IMAGE\} AS base-cuda$", text, re.M)
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+-runtime-", text, re.M)
    assert re.search(r"^FROM base-\$\{VARIANT\}", text, re.M)
    assert re.search(r"^WORKDIR /opt/ser_pipeline$", text, re.M)
    assert "DAGSTER_HOME=" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0"), f"the image runs as {users}"


def test_dockerfile_install_line_is_in_readme():
    """README's Deploy section shows the very command the image uses to install the project."""
    line = dockerfile_install_line()
    readme = [ln.strip() for ln in (REPO / "README.md").read_text().splitlines()]
    assert line in readme, f"README.md must contain this line (the Dockerfile's project install): {line}"


# --------------------------------------------------------------------------------------- k8s
def test_k8s_executor_requests_gpu_only_for_emotion_model():
    cfg = yaml.safe_load(K8S_EXECUTOR.read_text())["execution"]["config"]
    assert not any(GPU in r for r in _find_key(cfg.get("step_k8s_config", {}), "resources") for r in r.values()), (
        "step_k8s_config (every step) must not request a GPU")
    gpu_steps = {step for step, c in cfg["per_step_k8s_config"].items()
                 if any(GPU in part for r in _find_key(c, "resources") for part in r.values())}
    assert gpu_steps == {"emotion_model"}, f"GPU requested by {gpu_steps}, expected only emotion_model"
    limits = cfg["per_step_k8s_config"]["emotion_model"]["container_config"]["resources"]["limits"]
    assert limits[GPU] == 1
    pod = cfg["per_step_k8s_config"]["emotion_model"]["pod_spec_config"]
    assert pod["node_selector"] and any(t["key"] == GPU for t in pod["tolerations"])


@pytest.mark.parametrize("path", [K8S_EXECUTOR, K8S_EXECUTOR_OBJECT_STORAGE], ids=lambda p: p.name)
def test_k8s_executor_config_validates_against_the_job(path):
    """The run config is valid for full_pipeline under dagster-k8s's executor (a `dev` dependency, so
    this never skips), and every pod block in it (free-form in Dagster's schema) is a valid Kubernetes
    container / pod spec."""
    import dagster as dg
    from dagster_k8s import k8s_job_executor
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    from ser_pipeline.definitions import ASSETS, JOBS, RESOURCES

    job = dg.Definitions(assets=ASSETS, jobs=JOBS, resources=RESOURCES,
                         executor=k8s_job_executor).resolve_job_def("full_pipeline")
    assert "emotion_model" in {n.name for n in job.graph.node_defs}
    resolved = dg.validate_run_config(job, yaml.safe_load(path.read_text()))["execution"]["k8s"]
    assert "emotion_model" in resolved["per_step_k8s_config"]
    for name, block in [("step_k8s_config", resolved["step_k8s_config"]), *resolved["per_step_k8s_config"].items()]:
        try:  # snake_case keys checked against the kubernetes client's V1Container / V1PodSpec models
            UserDefinedDagsterK8sConfig.from_dict(block)
        except Exception as exc:
            raise AssertionError(f"{path.name}: {name}: {exc}") from None


def test_k8s_object_storage_executor_sizes_every_corpus_scan_and_the_training_step():
    """per_step_k8s_config is keyed by op name: every corpus scan (corpora__<name>) of full_pipeline has
    CPUs and as many scan workers, no GPU; only emotion_model gets the GPU; every key is a real op.
    Every step's pod asks for ephemeral storage (its scratch emptyDir lives on the node's disk)."""
    cfg = yaml.safe_load(K8S_EXECUTOR_OBJECT_STORAGE.read_text())["execution"]["config"]
    per_step = cfg["per_step_k8s_config"]
    ops = _full_pipeline_op_names()
    scans = {op for op in ops if op.startswith("corpora__") and op.split("__", 1)[1] in _corpus_names()}
    assert scans and scans <= set(per_step), f"corpus scans without pod resources: {sorted(scans - set(per_step))}"
    assert set(per_step) <= ops, f"per_step_k8s_config names no op of full_pipeline: {sorted(set(per_step) - ops)}"
    for op in scans:
        container = per_step[op]["container_config"]
        cpus = int(container["resources"]["requests"]["cpu"])
        assert cpus > 1 and _env(container)["SER_SCAN_WORKERS"]["value"] == str(cpus), (op, container)
    gpu_steps = {op for op, c in per_step.items() if any(GPU in part for r in _find_key(c, "resources") for part in r.values())}
    assert gpu_steps == {"emotion_model"}, f"GPU requested by {gpu_steps}, expected only emotion_model"
    emotion = per_step["emotion_model"]
    assert emotion["container_config"]["resources"]["limits"][GPU] == 1
    assert any(t["key"] == GPU for t in emotion["pod_spec_config"]["tolerations"])
    assert not any(GPU in part for r in _find_key(cfg["step_k8s_config"], "resources") for part in r.values())
    for name, c in [("step_k8s_config", cfg["step_k8s_config"]), *per_step.items()]:
        assert "ephemeral-storage" in c["container_config"]["resources"]["limits"], f"{name}: no ephemeral-storage limit"


def _corpus_names() -> set[str]:
    from ser_pipeline.corpora import REGISTRY

    return set(REGISTRY)


def test_k8s_object_storage_values_need_no_shared_volume():
    """With the overlay on the base values: no PersistentVolumeClaim anywhere (so no ReadWriteMany
    volume), corpora and data folder are bucket URLs the storage layer takes as object storage,
    SER_SCRATCH_DIR is an emptyDir the run and step pods inherit, and the store's credentials come
    from a Kubernetes Secret, never a literal."""
    from ser_pipeline import storage

    values = _object_storage_values()
    assert not _find_key(values, "persistentVolumeClaim"), "the object-storage layout still mounts a PVC"
    assert "ReadWriteMany" not in yaml.safe_dump(values)
    deployment = _user_deployment(values)
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    env = _env(deployment)
    assert env["SER_EXECUTOR"]["value"] == "k8s"
    for name in ("SER_CORPORA_ROOT", "SER_DATA_DIR"):
        url = env[name]["value"]
        assert url.startswith("s3://") and storage.is_remote(storage.as_root(url, name)), f"{name}={url}"
    scratch = env["SER_SCRATCH_DIR"]["value"]
    (mount,) = [m for m in deployment["volumeMounts"] if m["mountPath"] == scratch]
    (volume,) = [v for v in deployment["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume, f"SER_SCRATCH_DIR={scratch} is not an emptyDir: {volume}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["key"] == name, env[name]
    assert env["MLFLOW_TRACKING_URI"]["value"].startswith("http://")


def test_k8s_object_storage_mlflow_keeps_artifacts_in_the_bucket():
    """The MLflow server the values point at stores artifacts in the bucket, at the very location the
    pipeline sets on its experiments for an s3:// data folder; its database password and the store's
    credentials come from Secrets; the tracking URI's host and port are its Service's."""
    from ser_pipeline import settings

    env = _env(_user_deployment(_object_storage_values()))
    tracking = urllib.parse.urlsplit(env["MLFLOW_TRACKING_URI"]["value"])
    service = _manifest("Service", "mlflow")
    assert tracking.hostname.split(".")[0] == service["metadata"]["name"]
    assert tracking.port in {p["port"] for p in service["spec"]["ports"]}
    (container,) = _manifest("Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    cmd = container["command"]
    dest = cmd[cmd.index("--artifacts-destination") + 1]
    assert dest == settings.default_artifact_location(env["SER_DATA_DIR"]["value"]), dest
    assert "--serve-artifacts" in cmd
    assert tracking.netloc in cmd[cmd.index("--allowed-hosts") + 1].split(","), "MLflow 3 would reject the Host header"
    backend = cmd[cmd.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql://") and not re.search(r"://[^/@]*:[^/@]*@", backend), backend
    server_env = _env(container)
    for name in ("PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in server_env[name] and "secretKeyRef" in server_env[name]["valueFrom"], name


def test_deploy_extra_installs_the_s3_client_mlflow_needs():
    """MLflow's S3 artifact store imports boto3, which s3fs does not bring (it uses aiobotocore): the
    image (`pip install -e '.[deploy]'`) must install it, or every artifact upload of the object-storage
    layout fails in the step pods and the MLflow server."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["deploy"]]
    assert any(re.match(r"boto3\b", req) for req in wanted), f"boto3 is in neither dependencies nor the deploy extra: {wanted}"


def test_asset_op_tags_request_the_gpu():
    """The UI's Materialize bypasses run config: the emotion_model asset's own op tags (as the loaded
    definitions carry them, serialised to JSON) must request one GPU, and its op sits in the gpu pool."""
    import json

    from ser_pipeline.definitions import defs

    op = defs.resolve_assets_def("emotion_model").op
    k8s = json.loads(op.tags["dagster-k8s/config"])
    assert k8s["container_config"]["resources"]["limits"][GPU] == 1
    assert op.pool == "gpu"


@pytest.mark.parametrize("value", ["", "default", "DEFAULT"])
def test_executor_from_env_default(monkeypatch, value):
    from ser_pipeline.defs.executors import executor_from_env

    monkeypatch.setenv("SER_EXECUTOR", value)
    assert executor_from_env().name == "guarded_executor"  # Dagster's default, guarded (run_guard)


def test_executor_from_env_rejects_unknown(monkeypatch):
    from ser_pipeline.defs.executors import executor_from_env

    monkeypatch.setenv("SER_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="celery"):
        executor_from_env()
