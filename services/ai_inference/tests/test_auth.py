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
    assert response.json() == {"status": "ok", "models": [], "skipped": [], "device": "cpu"}


def test_a_request_without_a_key_gets_401_with_a_reason_and_a_bearer_challenge(client, body):
    response = client.post("/move", json=body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "missing API key: send X-API-Key: <key> or Authorization: Bearer <key>"
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "ai-test-key-7c2d9e4f1a0c"},
        {"X-API-Key": "ai-test-key-7c2d9e4f1a0"},
        {"Authorization": "Bearer ai-test-key-7c2d9e4f1a0c"},
        {"Authorization": "Bearer "},
    ],
    ids=["x-api-key", "x-api-key-prefix", "bearer", "bearer-empty"],
)
def test_a_wrong_key_gets_401(client, body, headers):
    response = client.post("/move", json=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "invalid API key"}


def test_the_key_in_x_api_key_is_accepted(client, body, api_key):
    assert client.post("/move", json=body, headers={"X-API-Key": api_key}).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_key_as_a_bearer_token_is_accepted(client, body, api_key, scheme):
    response = client.post("/move", json=body, headers={"Authorization": f"{scheme} {api_key}"})

    assert response.status_code == 200


def test_the_basic_scheme_is_refused_even_with_the_right_key(client, body, api_key):
    token = base64.b64encode(f"user:{api_key}".encode()).decode()

    response = client.post("/move", json=body, headers={"Authorization": f"Basic {token}"})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("unsupported authorization scheme")


def test_an_unknown_path_without_a_key_gets_401_not_404(client, auth):
    assert client.get("/models").status_code == 401
    assert client.get("/models", headers=auth).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_served_only_when_enabled(make_client, auth, path):
    assert make_client().get(path, headers=auth).status_code == 404
    assert make_client(enable_docs=True).get(path).status_code == 200


def test_the_key_never_appears_in_responses_or_logs(client, body, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    responses = [
        client.post("/move", json=body, headers={"X-API-Key": api_key}),
        client.post("/move", json=body, headers={"Authorization": f"Bearer {api_key}"}),
        client.post("/move", json=body, headers={"X-API-Key": api_key + "x"}),
        client.post("/move", json={"difficulty": 11}, headers={"X-API-Key": api_key}),
        client.get("/health"),
    ]
    lines = [JsonFormatter().format(record) for record in caplog.records]

    assert [r.status_code for r in responses] == [200, 200, 401, 422, 200]
    for response in responses:
        assert api_key not in response.text
        assert api_key not in json.dumps(dict(response.headers))
    assert any('"message": "move chosen"' in line for line in lines)
    assert not [line for line in lines if api_key in line]
    assert api_key not in repr(client.app.user_middleware)
