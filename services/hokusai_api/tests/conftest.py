"""Fixtures: one throwaway PostgreSQL cluster and one real MLflow server (basic auth, its
stores in that cluster) for the session, and the API built on them as the task runs it.

The API connects as the user that owns MLflow's database (as on RDS, where both use the
master user's secret), creates its own database ``hokusai_api`` and migrates it at start.
The MLflow registry is seeded once over MLflow's REST API: three models, the first with two
versions made from runs that logged metrics.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

_SERVICE = Path(__file__).resolve().parent.parent
for path in (_SERVICE, _SERVICE.parent / "common", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from hokusai_api.app import create_app  # noqa: E402
from hokusai_api.settings import Settings  # noqa: E402
from hokusai_support import (  # noqa: E402
    ADMIN_KEY,
    DB_PASSWORD,
    DB_USER,
    METRICS,
    MLFLOW_ADMIN_PASSWORD,
    MODELS,
    UNREACHABLE_MLFLOW,
    environment,
)
from service_testing.mlflow_server import ADMIN_USERNAME, MlflowServer, start_mlflow  # noqa: E402
from service_testing.postgres import PostgresCluster, PostgresMissingError, start_cluster  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster(prefix="hokusai-pg-")
    except PostgresMissingError as missing:
        pytest.fail(str(missing), pytrace=False)
    # The user and database RDS creates with the instance (MLflow's), which the API's
    # DB_SECRET names and whose database it connects to for CREATE DATABASE.
    cluster.create_owner(DB_USER, DB_PASSWORD, "mlflow")
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
        # A verified credential is kept a minute: the tests do not spend their time in
        # MLflow's per-request scrypt (the deployed server checks every request).
        auth_cache_ttl_seconds=60,
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


@pytest.fixture(scope="session")
def settings(postgres) -> Settings:
    """The API without a reachable MLflow: what the key and sign-in tests need (they do not
    wait for MLflow to start)."""
    return Settings.from_env(environment(postgres, UNREACHABLE_MLFLOW))


@pytest.fixture(scope="session")
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def registry_client(postgres, mlflow, client) -> Iterator[TestClient]:
    """The API with the real MLflow, on the same database (``client`` migrated it first:
    this start finds the schema current)."""
    settings = Settings.from_env(environment(postgres, mlflow.url))
    with TestClient(create_app(settings)) as test_client:
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
