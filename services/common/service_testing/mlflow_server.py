"""A real MLflow tracking server for the services' tests: ``mlflow server`` as a subprocess,
its backend store and its basic-auth store in a :class:`~service_testing.postgres.PostgresCluster`,
served under ``/mlflow`` (the static prefix the data platform deploys it with), with basic
auth on and an admin user, as the deployed MLflow runs (services/mlflow).

Start-up takes a few seconds: start one per session and share it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from psycopg2 import sql

from service_testing.ports import free_port
from service_testing.postgres import PostgresCluster

PREFIX = "/mlflow"
ADMIN_USERNAME = "admin"


@dataclass
class MlflowServer:
    """A running server; ``url`` is its tracking URI (with the prefix, no trailing ``/``)."""

    process: subprocess.Popen[bytes]
    port: int
    admin_password: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_mlflow(
    cluster: PostgresCluster,
    workdir: Path,
    admin_password: str,
    db_user: str = "mlflow_test",
    db_password: str = "mlflow-test-password",
    timeout: float = 90.0,
    auth_cache_ttl_seconds: int = 0,
) -> MlflowServer:
    """Creates the databases ``mlflow`` (backend) and ``mlflow_auth`` (users) owned by
    ``db_user`` (unless ``mlflow`` exists: then it is ``db_user``'s already), starts the
    server with basic auth, and waits until it is healthy.

    ``auth_cache_ttl_seconds`` is the basic-auth app's credential cache: 0 (MLflow's default,
    and the deployed server's) checks the password hash (scrypt) on every request; more
    keeps a verified credential that long, which spares tests and benches that CPU."""
    if "mlflow" not in cluster.databases():
        cluster.create_owner(db_user, db_password, "mlflow")
    connection = cluster.superuser()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE DATABASE mlflow_auth OWNER {}").format(sql.Identifier(db_user))
            )
    finally:
        connection.close()
    base = f"postgresql+psycopg2://{quote(db_user, safe='')}:{quote(db_password, safe='')}@"
    base += f"{cluster.host}:{cluster.port}"
    auth_ini = workdir / "basic_auth.ini"
    auth_ini.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {base}/mlflow_auth\n".replace("%", "%%")
        + f"admin_username = {ADMIN_USERNAME}\n"
        + f"admin_password = {admin_password}\n".replace("%", "%%")
        + "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        + f"auth_cache_ttl_seconds = {auth_cache_ttl_seconds}\n"
    )
    auth_ini.chmod(0o600)
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"{base}/mlflow",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--serve-artifacts", "--artifacts-destination", (workdir / "artifacts").as_uri(),
        "--static-prefix", PREFIX, "--app-name", "basic-auth",
    ]  # fmt: skip
    log_path = workdir / "mlflow.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() ends its workers too
        )
    server = MlflowServer(process, port, admin_password, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{server.output}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"mlflow server not healthy after {timeout} s:\n{server.output}")
