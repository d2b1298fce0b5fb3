"""SERVICE_ROLE=all (dev: one task serves every route): the three roles' routes in one app,
none of them overlapping, the union of their settings, and the same layers as one role."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from typing import Any

import pytest
from agent_world import schema
from agent_world.app import HEALTH_PATH
from agent_world.settings import SINGLE_ROLES, ConfigError, Settings, required_tables
from fastapi import FastAPI
from fastapi.testclient import TestClient

BEDROCK = "agent_world.llm:BedrockProvider"


def declared(app: FastAPI) -> set[tuple[str, str]]:
    """Every ``(METHOD, path template)`` the app declares, but ``/health``. Read from the
    OpenAPI description, the public view of the routes (FastAPI 0.16x no longer lists an
    included router's routes in ``app.routes``); the service has no WebSocket routes, API
    Gateway's WebSocket API calls plain ``POST /ws/*``."""
    paths = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path != HEALTH_PATH
        for method in operations
    }


def concrete(path: str) -> str:
    """A request path for a route template: each ``{parameter}`` replaced by a valid id."""
    return re.sub(r"\{[^}]+\}", "x1", path)


def answer(client: TestClient, method: str, path: str) -> tuple[int, Any]:
    """Status and body of ``method path`` with an empty JSON body (bodies are ignored by GET).
    Nothing exists in the tables, so no request writes: each is refused (404/422) or lists
    nothing, in words only the route's own handler uses."""
    body = None if method == "GET" else {}
    response = client.request(method, concrete(path), json=body)
    return response.status_code, response.json()


@pytest.fixture
def clients(make_client) -> dict[str, TestClient]:
    return {role: make_client(role) for role in (*SINGLE_ROLES, "all")}


def test_the_all_app_serves_every_route_of_every_role_and_nothing_else(clients):
    union: set[tuple[str, str]] = set()
    for role in SINGLE_ROLES:
        own = declared(clients[role].app)
        assert own, f"{role} declares no routes"
        union |= own
        for method, path in sorted(own):
            expected = answer(clients[role], method, path)
            assert expected[1] != {"detail": "Not Found"}, f"{role} does not route {path}"
            # The same answer proves the same handler: another role's route (a template that
            # matches the same URL, mounted earlier) would answer in its own words.
            assert answer(clients["all"], method, path) == expected, f"{role}: {method} {path}"

    assert declared(clients["all"].app) == union


def test_no_two_roles_declare_the_same_method_and_path(clients):
    owners: dict[tuple[str, str], str] = {}
    for role in SINGLE_ROLES:
        for key in sorted(declared(clients[role].app)):
            assert key not in owners, f"{key[0]} {key[1]} is declared by {owners[key]} and {role}"
            owners[key] = role

    # The routes the WebSocket API and the README promise, each from its own role.
    assert owners[("POST", "/worlds")] == "world-management"
    assert owners[("POST", "/ws/connect")] == "agent-runtime"
    assert owners[("POST", "/completions")] == "llm-integration"


def test_health_names_the_all_role(make_client):
    assert make_client("all").get("/health").json() == {"status": "ok", "role": "all"}


def test_one_all_task_serves_worlds_agents_events_websockets_and_completions(make_client, aws):
    client = make_client("all")

    world = client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})
    assert world.status_code == 201, world.text
    agent = client.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "Isabella"})
    assert agent.status_code == 201, agent.text
    memory = client.post("/agents/a1/memories", json={"content": "saw Klaus", "importance": 6})
    assert memory.status_code == 201, memory.text
    event = client.post(
        "/worlds/w1/events", json={"type": "agent.say", "agent_id": "a1", "payload": {"x": 1}}
    )
    assert event.status_code == 201, event.text
    connected = client.post(
        "/ws/connect", json={"world_id": "w1", "agent_id": "a1"}, headers={"X-Connection-Id": "c1"}
    )
    assert connected.status_code == 200, connected.text
    assert connected.json()["status"] == "connected"
    said = client.post(
        "/ws/message",
        json={"world_id": "w1", "payload": {"say": "hi"}},
        headers={"X-Connection-Id": "c1"},
    )
    assert said.status_code == 200, said.text
    gone = client.post("/ws/disconnect", json={"world_id": "w1"}, headers={"X-Connection-Id": "c1"})
    assert gone.status_code == 200, gone.text
    completion = client.post("/completions", json={"model_id": "m", "prompt": "plan the day"})
    assert completion.status_code == 200, completion.text
    assert completion.json()["provider"] == "echo"
    assert completion.json()["text"].endswith("plan the day")
    snapshot = client.post("/worlds/w1/snapshots", json={"label": "dev"})
    assert snapshot.status_code == 201, snapshot.text

    events = client.get("/worlds/w1/events").json()["events"]
    assert [e["type"] for e in events] == ["ws.disconnect", "ws.message", "ws.connect", "agent.say"]
    assert client.get("/agents/a1").json()["world_id"] == "w1"
    assert snapshot.json()["counts"] == {"agents": 1, "objects": 0, "events": 4}
    stored = aws["s3"].get_object(Bucket="aw-test-snapshots", Key=snapshot.json()["s3_key"])
    assert stored["ServerSideEncryption"] == "aws:kms"


def test_the_all_role_answers_errors_as_a_single_role_does(make_client, aws, table_names):
    client = make_client("all", max_body_bytes=64, model_ids=("allowed.model",))

    assert client.get("/worlds/nope").status_code == 404
    assert client.get("/agents/nope").status_code == 404
    too_big = client.post("/worlds", content=b"{" + b" " * 100 + b"}")
    assert too_big.status_code == 413
    bad = client.post("/worlds", json={"name": ""})
    assert bad.status_code == 422 and "input" not in bad.json()["detail"][0]
    refused = client.post("/completions", json={"model_id": "other.model", "prompt": "hi"})
    assert refused.status_code == 403
    assert "X-Request-Id" in client.get("/health").headers

    aws["dynamodb"].delete_table(TableName=table_names["AGENTS_TABLE"])
    broken = client.get("/agents/a1")
    assert broken.status_code == 503
    assert broken.json() == {"detail": "storage unavailable: ResourceNotFoundException"}


def test_the_all_role_logs_one_line_per_request(make_client, caplog):
    client = make_client("all")
    with caplog.at_level(logging.INFO, logger="agent_world.middleware"):
        client.post("/completions", json={"model_id": "m", "prompt": "hi"})
        client.get("/worlds/nope")

    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.path, r.status) for r in lines] == [("/completions", 200), ("/worlds/nope", 404)]


def test_the_all_role_needs_every_table_and_the_bucket():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SERVICE_ROLE": "all"})

    message = str(raised.value)
    for table in schema.TABLES:
        assert f"{table.env}: required by the all role" in message
    assert "SNAPSHOT_BUCKET: required by the all role" in message
    assert "BEDROCK_MODEL_IDS" not in message  # the echo provider takes any model id
    assert set(required_tables("all")) == {t.env for t in schema.TABLES}
    assert len(required_tables("all")) == len(schema.TABLES)


def test_the_all_role_with_bedrock_needs_the_model_ids_in_the_same_message(table_names):
    env = {"SERVICE_ROLE": "all", "LLM_PROVIDER": BEDROCK, "WORLDS_TABLE": "w"}
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)

    message = str(raised.value)
    assert "BEDROCK_MODEL_IDS: required by the Bedrock provider" in message
    assert "MEMORY_TABLE: required by the all role" in message
    assert "SNAPSHOT_BUCKET: required by the all role" in message
    assert "WORLDS_TABLE" not in message

    complete = {**table_names, "SNAPSHOT_BUCKET": "b", "BEDROCK_MODEL_IDS": "anthropic.x"}
    settings = Settings.from_env({**env, **complete})
    assert settings.roles == SINGLE_ROLES
    assert settings.model_ids == ("anthropic.x",)


def test_only_a_role_serving_completions_needs_bedrock_model_ids(table_names):
    with pytest.raises(ConfigError, match="BEDROCK_MODEL_IDS: required by the Bedrock provider"):
        Settings.from_env({"SERVICE_ROLE": "llm-integration", "LLM_PROVIDER": BEDROCK})
    env = {"SERVICE_ROLE": "agent-runtime", "LLM_PROVIDER": BEDROCK, **table_names}
    assert Settings.from_env(env).roles == ("agent-runtime",)


def test_single_roles_still_require_only_their_own_variables(table_names):
    runtime = {k: v for k, v in table_names.items() if k in required_tables("agent-runtime")}
    assert Settings.from_env({"SERVICE_ROLE": "agent-runtime", **runtime}).roles == (
        "agent-runtime",
    )
    with pytest.raises(ConfigError, match=r"SERVICE_ROLE: expected one of .*, all, got 'every'"):
        Settings.from_env({"SERVICE_ROLE": "every"})


def test_the_entry_point_refuses_an_incomplete_all_role(service_dir):
    done = subprocess.run(
        [sys.executable, "-m", "agent_world"],
        cwd=service_dir,
        env={
            "SERVICE_ROLE": "all",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(service_dir.parent / "common"),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("agent world: bad environment: WORLDS_TABLE: required by the")
    assert "SNAPSHOT_BUCKET: required by the all role" in done.stderr
    assert "Traceback" not in done.stderr
