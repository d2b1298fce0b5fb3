"""The ``mlflow server`` command and environment made from the settings.

The command line is readable by every process on the host (``ps``, ``/proc/<pid>/cmdline``),
so it carries no secret: the backend store URI, which holds the database password, goes to
MLflow as ``MLFLOW_BACKEND_STORE_URI`` (the variable ``mlflow server --backend-store-uri``
reads), and MLflow hands it to its uvicorn workers in their environment as well. A process's
environment is readable only by its own user and root.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mlflow_entrypoint.settings import Settings

LISTEN_ADDRESS = "0.0.0.0"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""Where ``mlflow_entrypoint`` imports from: MLflow's workers import its ``request_gate``
module as the auth app's authorization function, whatever their working directory."""
# Variables of the entrypoint that MLflow does not read; they hold secrets, so they stop here.
# MLFLOW_AUTH_ADMIN_* would override the ini file's admin user, which must be the one source.
DROPPED_VARIABLES = (
    "DB_SECRET",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_AUTH_ADMIN_USERNAME",
    # `mlflow server` would read this when STATIC_PREFIX is empty; STATIC_PREFIX decides.
    "MLFLOW_STATIC_PREFIX",
)
# Defaults for MLflow's own switches, kept if the task sets them.
MLFLOW_DEFAULTS = {
    # No usage reports from inside a private subnet.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # The job runner serves GenAI evaluation jobs (scorers, judges) with extra processes; a
    # tracking server for training runs does not need it. Set "true" in the task to enable.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def server_command(settings: Settings, python: str = sys.executable) -> list[str]:
    """``python -m mlflow server ...``: every option but the backend store URI."""
    command = [
        python,
        "-m",
        "mlflow",
        "server",
        "--host",
        LISTEN_ADDRESS,
        "--port",
        str(settings.port),
        "--workers",
        str(settings.workers),
        # Clients send and fetch artifacts through the server, which alone holds S3 access.
        "--serve-artifacts",
        "--artifacts-destination",
        settings.artifacts_destination,
        "--allowed-hosts",
        ",".join(settings.server_allowed_hosts()),
        # The UI's own requests, which carry the load balancer's origin.
        "--cors-allowed-origins",
        ",".join(settings.server_cors_origins()),
    ]
    if settings.static_prefix:
        command += ["--static-prefix", settings.static_prefix]
    if settings.auth:
        command += ["--app-name", "basic-auth"]
    return command


def server_environment(
    settings: Settings, environ: Mapping[str, str], auth_config: Path | None
) -> dict[str, str]:
    """The environment ``mlflow server`` runs with: the task's, less the entrypoint's
    secrets, plus the backend store URI and the auth app's configuration file."""
    env = {name: value for name, value in environ.items() if name not in DROPPED_VARIABLES}
    for name, value in MLFLOW_DEFAULTS.items():
        env.setdefault(name, value)
    # boto3 reads the region from AWS_DEFAULT_REGION only (ECS sets both on Fargate).
    env.setdefault("AWS_DEFAULT_REGION", settings.aws_region)
    env["MLFLOW_BACKEND_STORE_URI"] = settings.backend_store_uri()
    if auth_config is not None:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(auth_config)
    else:
        env.pop("MLFLOW_AUTH_CONFIG_PATH", None)
    if settings.auth:
        paths = [str(PACKAGE_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def describe(settings: Settings) -> str:
    """One log line about the server about to start, without any secret."""
    parts = [
        f"port {settings.port}",
        f"{settings.workers} worker(s)",
        f"backend {settings.redacted_database_uri(settings.db_name)}",
        f"artifacts {settings.artifacts_destination}",
        f"static prefix {settings.static_prefix or '(none)'}",
        f"allowed hosts {','.join(settings.allowed_hosts)}",
        f"basic auth {'on, database ' + settings.db_auth_name if settings.auth else 'off'}",
        f"single sign-on {'signed by ' + settings.sso_signer if settings.sso_signer else 'off'}",
    ]
    return "; ".join(parts)
