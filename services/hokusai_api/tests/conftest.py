"""Fixtures: one throwaway PostgreSQL cluster and one real MLflow server (basic auth, its
stores in that cluster) for the session, and the API built on them as the task runs it.

The API connects as the user that owns MLflow's database (as on RDS, where both use the
master user's secret), creates its own database ``hokusai_api`` and migrates it at start.
The MLflow registry is seeded once over MLflow's REST API: three models, the first with two
versions made from runs that logged metrics.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

_SERVICE = Path(__file__).resolve().parent.parent
for path in (_SERVICE, _SERVICE.parent / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from hokusai_api.app import create_app  # noqa: E402
from hokusai_api.settings import Settings  # noqa: E402
from service_testing.mlflow_server import ADMIN_USERNAME, MlflowServer, start_mlflow  # noqa: E402
from service_testing.postgres import PostgresCluster, PostgresMissingError, start_cluster  # noqa: E402

ADMIN_KEY = "bootstrap-Admin-key-0123456789abcdef"
MLFLOW_ADMIN_PASSWORD = "mlflow-Admin-passw0rd%;#"
DB_USER = "mlflow_test"
DB_PASSWORD = "db-p@ss:w/rd%41#?&="
MODELS = ("fraud-detector", "churn-model", "ranker")
METRICS = ({"accuracy": 0.91, "loss": 0.25}, {"accuracy": 0.94, "loss": 0.19})


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster(prefix="hokusai-pg-")
    except PostgresMissingError as missing:
        pytest.fail(str(missing), pytrace=False)
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow(postgres, tmp_path_factory) -> Iterator[MlflowServer]:
    server = start_mlflow(
        postgres,
        tmp_path_factory.mktemp("mlflow"),
        MLFLOW_ADMIN_PASSWORD,
        db_user=DB_USER,
        db_password=DB_PASSWORD,
    )
    try:
        seed_registry(server)
        yield server
    finally:
        server.stop()


def seed_registry(server: MlflowServer) -> None:
    """The models the tests read, made through MLflow's own REST API."""
    with httpx2.Client(
        base_url=f"{server.url}/api/2.0/mlflow",
        auth=(ADMIN_USERNAME, server.admin_password),
        timeout=30,
    ) as mlflow:

        def post(path: str, body: dict) -> dict:
            response = mlflow.post(path, json=body)
            assert response.status_code == 200, response.text
            return response.json()

        experiment = post("experiments/create", {"name": "hokusai-tests"})["experiment_id"]
        for name in MODELS:
            post("registered-models/create", {"name": name, "description": f"{name} model"})
        for metrics in METRICS:
            run = post("runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
            for key, value in metrics.items():
                post(
                    "runs/log-metric",
                    {"run_id": run, "key": key, "value": value, "timestamp": 1, "step": 0},
                )
            post(
                "model-versions/create",
                {"name": MODELS[0], "source": f"runs:/{run}/model", "run_id": run},
            )


def environment(postgres: PostgresCluster, mlflow_url: str, **extra: str) -> dict[str, str]:
    return {
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_SECRET": json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        "DB_SSLMODE": "disable",  # the local cluster has no TLS; the task keeps require
        "API_SECRET_KEY": ADMIN_KEY,
        "MLFLOW_TRACKING_URI": f"{mlflow_url}/",
        "MLFLOW_TRACKING_PASSWORD": MLFLOW_ADMIN_PASSWORD,
        **extra,
    }


@pytest.fixture(scope="session")
def settings(postgres, mlflow) -> Settings:
    return Settings.from_env(environment(postgres, mlflow.url))


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def make_key(client, admin):
    """Creates a key through the API; returns (key, its record as created)."""

    def make(scopes=("models:read",), owner="alice", **extra) -> tuple[str, dict]:
        response = client.post(
            "/api/v1/keys", json={"owner": owner, "scopes": list(scopes), **extra}, headers=admin
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["key"], body

    return make
