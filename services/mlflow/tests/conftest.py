"""Fixtures: a complete environment for the entrypoint, a throwaway PostgreSQL cluster and a
moto server.

Nothing here reads the developer's environment: the variables the entrypoint reads are
removed for every test, so a test that wants one sets it. The cluster and the moto server
are shared by the tests of a session and stopped at its end.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

# The service's package, service_common and mlflow_support beside this file import from any
# directory.
_SERVICE = Path(__file__).resolve().parent.parent
for path in (_SERVICE, _SERVICE.parent / "common", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from mlflow_support import (  # noqa: E402
    ADMIN_PASSWORD,
    DB_PASSWORD,
    FLASK_KEY,
    REGION,
    PostgresCluster,
    PostgresMissingError,
    start_cluster,
)

ENV_VARS = (
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_SECRET",
    "DB_SSLMODE",
    "DB_AUTH_NAME",
    "DB_WAIT_SECONDS",
    "ARTIFACTS_DESTINATION",
    "ALLOWED_HOSTS",
    "STATIC_PREFIX",
    "MLFLOW_AUTH",
    "MLFLOW_ADMIN_USERNAME",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "MLFLOW_WORKERS",
    "PORT",
    "AWS_REGION",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_SSO_SIGNER",
    "MLFLOW_SSO_USERNAME_CLAIM",
    "MLFLOW_SSO_PUBLIC_KEYS_URL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env() -> dict[str, str]:
    """A complete, valid environment as the ECS task definition sets it."""
    return {
        "DB_HOST": "mlflow-db.abc123xyz.us-east-1.rds.amazonaws.com",
        "DB_SECRET": json.dumps({"username": "mlflow_admin", "password": DB_PASSWORD}),
        "ARTIFACTS_DESTINATION": "s3://ml-platform-artifacts/mlflow",
        "ALLOWED_HOSTS": "ml-alb-123.us-east-1.elb.amazonaws.com",
        "STATIC_PREFIX": "/mlflow",
        "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": FLASK_KEY,
        "AWS_REGION": REGION,
    }


@pytest.fixture
def secrets() -> tuple[str, ...]:
    """Values that must never reach a command line, a log line or an error message."""
    return (DB_PASSWORD, ADMIN_PASSWORD, FLASK_KEY)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresMissingError as missing:
        pytest.fail(str(missing), pytrace=False)
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_endpoint):
    """A boto3 S3 client of the moto server, with fake credentials."""
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """The temporary directory, as the container's /tmp: the auth ini lands here."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path
