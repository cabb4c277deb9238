"""Shared fixtures. Keep each one small and documented; tests import nothing from here.

- `shared_data`: the real Ground Truth files in ../shared/data (skips when absent).
- `unprivileged`: a command prefix under which file modes hold even for root (CI runs as
  root, and root reads a chmod-000 file): setpriv drops CAP_DAC_OVERRIDE/READ_SEARCH.
- `moto_server`: one real S3-compatible HTTP server (moto) on 127.0.0.1 for the session.
- `aws_env`: points boto3 at that server with fake credentials, isolated from ~/.aws.
- `s3_bucket`: a fresh, empty bucket for one test.
- `s3_outage`: a context manager that takes the server down and brings it back on the
  same port, for "S3 unreachable, then reachable again".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Ground Truth files not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def unprivileged() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot make a file unreadable")
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE: {probe.stderr.decode().strip()}")
    return prefix


# --- S3 (moto server over real HTTP) ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """A ThreadedMotoServer we can stop and restart on the same port.

    moto's own stop() shuts the serve loop but leaves the listening socket open, so clients
    would hang in the backlog instead of being refused; we close it too. Moto keeps its
    buckets in process-global state, so objects survive a restart.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            return
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        if server._server is not None:  # see class docstring
            server._server.server_close()


@pytest.fixture(scope="session")
def moto_server():
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e .[test])")
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path_factory) -> str:
    """Environment for boto3 (in this process and in subprocesses) to reach the moto
    server and nothing else. Returns the endpoint URL."""
    if not moto_server.running:
        moto_server.start()  # a previous test's outage must not leak
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_server.endpoint


@pytest.fixture
def s3_bucket(aws_env) -> str:
    """A fresh, empty bucket (its name); boto3 is already pointed at the moto server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_outage(moto_server):
    """`with s3_outage(): ...` — S3 is unreachable (connection refused) inside the block and
    back, same endpoint, after it. Also callable as s3_outage.stop() / s3_outage.start()."""

    @contextlib.contextmanager
    def outage():
        moto_server.stop()
        try:
            yield moto_server
        finally:
            moto_server.start()

    outage.stop = moto_server.stop
    outage.start = moto_server.start
    yield outage
    moto_server.start()
