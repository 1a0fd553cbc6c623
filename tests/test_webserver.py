"""The real dagster-webserver on a free loopback port, queried through GraphQL, then stopped."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a real dagster-webserver process: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
QUERY = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        name
        jobs { name }
        schedules { name }
        sensors { name }
        assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.timeout(300)
def test_webserver_serves_every_definition(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "SER_DATA_DIR": str(tmp_path / "data")}
    exe = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen([str(exe), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 240
        data = None
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"webserver exited: {proc.stdout.read().decode()[-3000:]}")
            try:
                data = graphql(port, QUERY)
                if data.get("data", {}).get("repositoriesOrError", {}).get("nodes"):
                    break
            except OSError:
                pass
            time.sleep(1)
        assert data, "webserver did not answer"
        repo = data["data"]["repositoriesOrError"]["nodes"][0]
        jobs = {j["name"] for j in repo["jobs"]}
        assert {"prepare_data", "train_and_evaluate", "full_pipeline", "observe_corpora"} <= jobs
        assert {s["name"] for s in repo["schedules"]} == {"weekly_training"}
        assert {"new_training_data", "data_automation"} <= {s["name"] for s in repo["sensors"]}
        from ser_pipeline.definitions import defs

        assets = {"/".join(a["assetKey"]["path"]): a for a in repo["assetNodes"]}
        expected_assets = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
        assert expected_assets <= set(assets), sorted(expected_assets - set(assets))
        assert {j.name for j in defs.jobs} <= jobs
        checks = {(k, c["name"]) for k, a in assets.items() for c in (a["assetChecksOrError"] or {}).get("checks", [])}
        # standalone checks and those an asset declares itself (corpus_present)
        expected_checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
        assert expected_checks == checks, sorted(expected_checks ^ checks)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
