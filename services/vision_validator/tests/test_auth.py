"""The API key: required everywhere but /health (and the docs when enabled), never echoed."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from service_common.logs import JsonFormatter


def test_health_answers_without_a_key(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_request_without_a_key_gets_401_with_a_reason_and_a_bearer_challenge(client, body):
    response = client.post("/validate", json=body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "missing API key: send X-API-Key: <key> or Authorization: Bearer <key>"
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "vv-test-key-4f1c9a0b7d2f"},
        {"X-API-Key": "vv-test-key-4f1c9a0b7d2e-and-more"},
        {"X-API-Key": ""},
        {"Authorization": "Bearer not-the-key-at-all-000"},
        {"Authorization": "Bearer"},
    ],
    ids=["x-api-key", "x-api-key-longer", "x-api-key-empty", "bearer", "bearer-empty"],
)
def test_a_wrong_key_gets_401(client, body, headers):
    response = client.post("/validate", json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "invalid API key"}


def test_the_key_in_x_api_key_is_accepted(client, body, api_key):
    response = client.post("/validate", json=body, headers={"X-API-Key": api_key})

    assert response.status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_key_as_a_bearer_token_is_accepted(client, body, api_key, scheme):
    response = client.post("/validate", json=body, headers={"Authorization": f"{scheme} {api_key}"})

    assert response.status_code == 200


@pytest.mark.parametrize("credentials", ["basic-of-the-key", "raw-key"])
def test_the_basic_scheme_is_refused_even_with_the_right_key(client, body, api_key, credentials):
    token = base64.b64encode(f"user:{api_key}".encode()).decode()
    value = f"Basic {token}" if credentials == "basic-of-the-key" else f"Basic {api_key}"

    response = client.post("/validate", json=body, headers={"Authorization": value})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("unsupported authorization scheme")


def test_a_wrong_x_api_key_does_not_hide_a_right_bearer_token(client, body, api_key):
    headers = {"X-API-Key": "wrong-wrong-wrong-wrong", "Authorization": f"Bearer {api_key}"}

    assert client.post("/validate", json=body, headers=headers).status_code == 200


def test_an_unknown_path_without_a_key_gets_401_not_404(client, auth):
    assert client.get("/admin").status_code == 401
    assert client.get("/admin", headers=auth).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_not_served_by_default_even_with_the_key(client, auth, path):
    assert client.get(path, headers=auth).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_served_without_a_key_when_enabled(make_client, path):
    client = make_client(enable_docs=True)

    assert client.get(path).status_code == 200


def test_the_key_never_appears_in_responses_or_logs(client, body, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    almost = api_key[:-1] + "X"
    responses = [
        client.post("/validate", json=body, headers={"X-API-Key": api_key}),
        client.post("/validate", json=body, headers={"Authorization": f"Bearer {api_key}"}),
        client.post("/validate", json=body, headers={"X-API-Key": almost}),
        client.post("/validate", content=b"{", headers={"X-API-Key": api_key}),
        client.get("/health"),
        client.get("/nowhere", headers={"X-API-Key": api_key}),
    ]
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]

    assert [r.status_code for r in responses] == [200, 200, 401, 422, 200, 404]
    for response in responses:
        assert api_key not in response.text
        assert almost not in response.text
        assert api_key not in json.dumps(dict(response.headers))
    assert any('"message": "request"' in line for line in lines)
    assert not [line for line in lines if api_key in line or almost in line]
    assert api_key not in repr(client.app.user_middleware)
