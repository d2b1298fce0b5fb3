"""The registry's read routes against a real MLflow server (basic auth, PostgreSQL stores),
seeded through MLflow's REST API: models, versions and their run's metrics, paging, 404 for
what MLflow does not know, 4xx for bad parameters, 502 when MLflow fails the API."""

from __future__ import annotations

import dataclasses

import pytest
from hokusai_api.registry import Registry, RegistryError, name_filter
from hokusai_support import METRICS, MODELS


@pytest.fixture(scope="module")
def reader(registry_client, admin) -> dict[str, str]:
    made = registry_client.post(
        "/api/v1/keys", json={"owner": "reader", "scopes": ["models:read"]}, headers=admin
    )
    return {"Authorization": f"Bearer {made.json()['key']}"}


def test_models_are_listed_page_by_page(registry_client, reader):
    first = registry_client.get("/api/v1/models?max_results=2", headers=reader)
    assert first.status_code == 200, first.text
    token = first.json()["next_page_token"]
    assert len(first.json()["models"]) == 2 and token
    second = registry_client.get(f"/api/v1/models?max_results=2&page_token={token}", headers=reader)
    assert second.json()["next_page_token"] is None
    names = [m["name"] for m in first.json()["models"] + second.json()["models"]]
    assert sorted(names) == sorted(MODELS)


def test_one_model_and_its_versions(registry_client, reader):
    model = registry_client.get(f"/api/v1/models/{MODELS[0]}", headers=reader)
    assert model.status_code == 200 and model.json()["model"]["description"] == f"{MODELS[0]} model"
    versions = registry_client.get(f"/api/v1/models/{MODELS[0]}/versions", headers=reader).json()
    assert sorted(v["version"] for v in versions["versions"]) == ["1", "2"]
    one = registry_client.get(f"/api/v1/models/{MODELS[0]}/versions/2", headers=reader).json()
    assert one["version"]["name"] == MODELS[0] and one["version"]["run_id"]


def test_the_metrics_of_each_version_are_its_runs(registry_client, reader):
    for number, expected in enumerate(METRICS, start=1):
        answer = registry_client.get(
            f"/api/v1/models/{MODELS[0]}/versions/{number}/metrics", headers=reader
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["metrics"] == expected and answer.json()["version"] == str(number)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/models/no-such-model", "/api/v1/models/no-such-model/versions",
     f"/api/v1/models/{MODELS[0]}/versions/99", f"/api/v1/models/{MODELS[0]}/versions/99/metrics"],
)  # fmt: skip
def test_what_mlflow_does_not_know_is_404_with_its_reason(registry_client, reader, path):
    answer = registry_client.get(path, headers=reader)
    assert answer.status_code == 404 and answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/models?max_results=0", 422),
        ("/api/v1/models?max_results=201", 422),
        (f"/api/v1/models/{MODELS[0]}/versions/abc", 422),
        (f"/api/v1/models/{MODELS[0]}/versions/0", 422),
        ("/api/v1/models?page_token=not-a-token", 400),
    ],
)
def test_bad_parameters_are_a_4xx_with_a_reason(registry_client, reader, path, status):
    answer = registry_client.get(path, headers=reader)
    assert answer.status_code == status and answer.json()["detail"]


def test_the_registry_needs_a_credential_with_models_read(registry_client, admin):
    assert registry_client.get("/api/v1/models").status_code == 401
    manager = registry_client.post(
        "/api/v1/keys", json={"owner": "ops", "scopes": ["keys:manage"]}, headers=admin
    ).json()["key"]
    refused = registry_client.get("/api/v1/models", headers={"Authorization": f"Bearer {manager}"})
    assert refused.status_code == 403


def test_refused_credentials_at_mlflow_are_a_502_not_the_callers_fault(settings, mlflow):
    wrong = dataclasses.replace(
        settings, mlflow_tracking_uri=mlflow.url, mlflow_password="not-the-password"
    )
    registry = Registry(wrong)
    try:
        with pytest.raises(RegistryError) as raised:
            registry.models(10, None)
    finally:
        registry.close()
    assert raised.value.status == 502 and "credentials" in str(raised.value)
    assert registry.credentials_refused  # what fails the health check


def test_refused_mlflow_credentials_fail_the_health_check_until_they_work(
    settings, mlflow, postgres
):
    from fastapi.testclient import TestClient
    from hokusai_api.app import create_app
    from hokusai_api.db import engine_for

    wrong = dataclasses.replace(
        settings, mlflow_tracking_uri=mlflow.url, mlflow_password="not-the-password"
    )
    engine = engine_for(settings)
    try:
        with TestClient(create_app(wrong, engine=engine)) as app:
            admin = {"Authorization": f"Bearer {settings.admin_key}"}
            assert app.get("/api/health").status_code == 200
            assert app.get("/api/v1/models", headers=admin).status_code == 502
            sick = app.get("/api/health")
            assert sick.status_code == 503 and "credentials" in sick.json()["status"]
    finally:
        engine.dispose()


def test_an_unreachable_mlflow_is_a_502(client, admin):
    answer = client.get("/api/v1/models", headers=admin)
    assert answer.status_code == 502 and "unreachable" in answer.json()["detail"]


def test_a_model_name_is_quoted_for_mlflows_filter_or_refused():
    assert name_filter("fraud-detector") == "name='fraud-detector'"
    assert name_filter("o'brien") == 'name="o\'brien"'
    with pytest.raises(RegistryError) as raised:
        name_filter("a'b\"c")
    assert raised.value.status == 400 and "quote" in str(raised.value)
