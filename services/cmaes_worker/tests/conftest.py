"""Fixtures: AWS emulated by moto, queues made the way the training stack makes them.

Two ways to reach moto: ``aws`` patches boto3 in this process (fast; workers run as threads)
and ``moto_endpoint`` is a moto server on a free local port (for workers run as real
subprocesses, which reach it through ``AWS_ENDPOINT_URL`` like the bench does). A test uses
one or the other, never both at once: they share moto's in-memory backends.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

# The service's package, service_common and cmaes_support beside this file import from any
# directory.
_SERVICE = Path(__file__).resolve().parent.parent
for path in (_SERVICE, _SERVICE.parent / "common", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from cmaes_support import REGION, WorkerProcess, WorkerThreads  # noqa: E402


@pytest.fixture(autouse=True)
def _tempdir_restored(monkeypatch) -> None:
    """The worker points ``tempfile.tempdir`` at its scratch directory (a read-only root on
    ECS): put it back after each test, or later tests (the MLflow tests' PostgreSQL, run
    as another user) make their temporary directories in this test's private tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Fake credentials and a region; nothing from the developer's AWS config leaks in."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "SQS_TASK_QUEUE_URL", "SQS_RESULT_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLIs configure the root logger; put it back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_endpoint(moto_server, monkeypatch) -> str:
    """The moto server, with boto3 in this process pointed at it too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def worker_threads() -> Iterator[WorkerThreads]:
    threads = WorkerThreads()
    yield threads
    threads.stop_all()


@pytest.fixture
def worker_processes() -> Iterator[Callable[[dict[str, str]], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def spawn(env: dict[str, str]) -> WorkerProcess:
        process = WorkerProcess(env)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
        process.process.wait(timeout=10)
