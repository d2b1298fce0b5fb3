"""offline.container_runs' environment (offline/image-smoke.yaml) starts each HTTP service:
the service's real entry module runs as a process here (no Docker on this machine) with the
matrix's environment, beside a real PostgreSQL for those that need one, until ``/health``
answers, as the pull-request workflow's image job waits for the container. Only the ports
differ: free ones here, the task definition's (and PostgreSQL's 5432) on the runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from service_testing.ports import free_port
from service_testing.postgres import start_cluster

from offline import container_runs

PROJECT = Path(__file__).resolve().parents[2]
PASSWORD = "ci-smoke"  # offline/image-smoke.yaml's DB_SECRET password


def entry_module(service: str) -> str:
    text = (PROJECT / "services" / service / "Dockerfile").read_text()
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)
    command = json.loads(entrypoint)
    assert command[:2] == ["python", "-m"], command
    return command[2]


@pytest.fixture(scope="module")
def postgres():
    """A cluster like the job's postgres service container: superuser postgres with the
    password, and the database mlflow."""
    cluster = start_cluster("smoke-pg-")
    connection = cluster.superuser()
    try:
        with connection.cursor() as cursor:
            cursor.execute("ALTER ROLE postgres PASSWORD %s", (PASSWORD,))
            cursor.execute("CREATE DATABASE mlflow")
    finally:
        connection.close()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def entries(dev, prod):
    smoke = yaml.safe_load(container_runs.SMOKE_FILE.read_text())
    return {e["service"]: e for e in container_runs.matrix(dev, smoke, prod)}


def environment(entry: dict, port: int, db_port: int | None) -> dict[str, str]:
    args = entry["run_args"]
    env = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--env")
    env["PORT"] = str(port)
    if db_port is not None:
        assert env["DB_HOST"] == "127.0.0.1" and env["DB_PORT"] == "5432"
        env["DB_PORT"] = str(db_port)
    return env


def wait_for_health(url: str, process: subprocess.Popen, seconds: float) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            if error.code < 500:  # answered, but not there: waiting would not help
                pytest.fail(f"{url} answered {error.code}")
            time.sleep(0.5)
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {seconds} s")


HTTP_SERVICES = ["agent_world", "ai_inference", "hokusai_api", "mlflow", "vision_validator"]


@pytest.mark.parametrize("service", HTTP_SERVICES)
def test_the_smoke_environment_starts_the_service_until_health_answers(
    service, entries, request, tmp_path
):
    entry = entries[service]
    assert entry["port"] > 0 and entry["health"].endswith("/health")
    db_port = request.getfixturevalue("postgres").port if entry["postgres"] else None
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(
            str(PROJECT / "services" / name) for name in (service, "common")
        ),
        **environment(entry, port, db_port),
    }
    log = (tmp_path / "service.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", entry_module(service)], env=env, cwd=tmp_path, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        status, body = wait_for_health(f"http://127.0.0.1:{port}{entry['health']}", process, 120)
    except BaseException:
        log.flush()
        print((tmp_path / "service.log").read_text()[-4000:])
        raise
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert status == 200, body


def test_the_worker_has_no_port_and_imports_its_entry_module(entries):
    entry = entries["cmaes_worker"]
    assert entry["port"] == 0
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(PROJECT / "services" / "cmaes_worker")}
    env["PYTHONPATH"] += os.pathsep + str(PROJECT / "services" / "common")
    module = entry_module("cmaes_worker")
    command = [sys.executable, "-c", f"import importlib; importlib.import_module({module!r})"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
