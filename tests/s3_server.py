"""A local S3-compatible server for the object-storage tests: moto's ``ThreadedMotoServer`` on
127.0.0.1 with a random port, started once per test session. Never a real cloud endpoint.

Credentials and the endpoint reach fsspec/botocore through the standard variables, exactly as
a user sets them (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), so
worker processes and subprocesses (the Dagster CLI, torchrun) inherit them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import logging
from collections import Counter
from pathlib import Path

#: the variables a test sets for the session's server (a test that needs other values
#: monkeypatches them)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

_BUCKETS = itertools.count()


def url_folders(*tops: Path) -> list[str]:
    """Every folder under ``tops`` whose name looks like a URL scheme (``s3:``, ``gs:``...): what a
    URL turned into a local path (``Path("s3://b/x")`` -> ``./s3:/b/x``) would leave."""
    return [os.path.join(d, n) for top in tops for d, dirs, _ in os.walk(top) for n in dirs if n.endswith(":")]


def _objects(folder: Path, url: str) -> dict[str, bytes]:
    """The objects that copy ``folder``'s tree under ``url`` (``s3://bucket/prefix``): bytes by key."""
    dest = url.removeprefix("s3://").rstrip("/")
    files = {}
    for dirpath, _dirs, names in os.walk(folder, followlinks=True):
        for name in names:
            path = Path(dirpath) / name
            files[f"{dest}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files


class S3Server:
    """The running server: its endpoint URL and helpers to make buckets and upload folders."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}

    def fs(self):
        """This process's s3fs filesystem for the server (fresh listing cache)."""
        import fsspec

        fs = fsspec.filesystem("s3", endpoint_url=self.endpoint, key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                               secret=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        fs.invalidate_cache()
        return fs

    def new_bucket(self) -> str:
        """A fresh, empty bucket (one per test: the server outlives tests)."""
        name = f"ser-{next(_BUCKETS)}"
        self.fs().mkdir(name)
        return name

    def upload(self, folder: Path, url: str) -> None:
        """Copy ``folder``'s tree under ``url`` (``s3://bucket/prefix``); links are followed."""
        self.fs().pipe(_objects(folder, url))  # concurrent PUTs

    def stop(self) -> None:
        self._server.stop()


class RequestCounter:
    """Counts the S3 requests this process's s3fs client sends, by operation (``GetObject``,
    ``ListObjectsV2``, ``HeadObject``...), while it is installed."""

    def __init__(self):
        self.counts: Counter[str] = Counter()

    def install(self) -> RequestCounter:
        import fsspec
        from fsspec.asyn import sync

        fs = fsspec.filesystem("s3")  # the instance the code under test gets (same arguments)
        client = sync(fs.loop, fs.set_session)
        client.meta.events.register("before-send.s3.*", self._count)
        return self

    def _count(self, event_name: str, **_kw) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def reset(self) -> None:
        self.counts.clear()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def moto_process(extra_env: dict[str, str] | None = None):
    """moto's S3 server in a child process on a free 127.0.0.1 port (its own interpreter, so it does
    not compete for this one's lock); returns ``(process, endpoint URL)`` once it accepts connections."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env={**os.environ, **(extra_env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


class AuthS3Server:
    """A second moto server, in its own process, that checks credentials and IAM policies (moto's
    ``INITIAL_NO_AUTH_ACTION_COUNT=0``): a key it does not know is answered ``InvalidAccessKeyId``
    as S3 does for wrong credentials, and a known user's request that its policy does not allow
    ``AccessDenied``. A context manager; :meth:`user` and :meth:`upload` set the server up (with
    checks off while they run)."""

    def __enter__(self) -> AuthS3Server:
        self._proc, self.endpoint = moto_process({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
        return self

    def __exit__(self, *exc) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)

    @contextlib.contextmanager
    def _unchecked(self):
        """Credential and policy checks off while the block runs (moto's ``/moto-api/reset-auth``)."""
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
        try:
            yield
        finally:
            requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    def upload(self, folder: Path, url: str) -> None:
        """Create the bucket of ``url`` (``s3://bucket/prefix``) and copy ``folder``'s tree under it."""
        import fsspec

        with self._unchecked():
            fs = fsspec.filesystem("s3", endpoint_url=self.endpoint, key="setup", secret="setup",
                                   skip_instance_cache=True)
            fs.mkdir(url.removeprefix("s3://").split("/", 1)[0])
            fs.pipe(_objects(folder, url))

    def user(self, name: str, actions: list[str]) -> dict[str, str]:
        """A new IAM user allowed exactly ``actions`` (``["s3:ListBucket"]``; ``[]``: nothing) on
        every resource; returns fsspec ``storage_options`` (endpoint and the user's valid key)."""
        import json

        import boto3

        statements = [{"Effect": "Allow", "Action": actions, "Resource": "*"}] if actions else []
        with self._unchecked():
            iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
                               aws_access_key_id="setup", aws_secret_access_key="setup")
            iam.create_user(UserName=name)
            if statements:
                iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": statements}))
            key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"endpoint_url": self.endpoint, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
