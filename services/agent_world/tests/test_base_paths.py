"""API_BASE_PATHS: a REST API's private integration through a VPC link V2 may forward the
stage and resource with the proxy path (``/v1/api/world/worlds/w1``), so the service removes
those prefixes before routing, and serves paths without one (``/worlds/w1``) as before."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from agent_world.app import HEALTH_PATH, create_app
from agent_world.middleware import StripBasePath
from agent_world.settings import ConfigError, Settings
from fastapi import FastAPI
from fastapi.testclient import TestClient

# What the platform sets in shared-ALB mode (components/stacks/agent_world/stack.py).
PLATFORM = "/v1/api/world,/v1/api/runtime,/v1/api/llm"
WORLD = "/v1/api/world"


def routed(prefixes: tuple[str, ...], scope: dict[str, Any]) -> dict[str, Any]:
    """The scope the app behind ``StripBasePath(prefixes)`` is called with."""
    seen: list[dict[str, Any]] = []

    async def app(scope, receive, send) -> None:
        seen.append(scope)

    async def nothing() -> dict[str, Any]:
        raise AssertionError("not read")

    async def ignore(message) -> None:
        raise AssertionError("not sent")

    asyncio.run(StripBasePath(app, prefixes)(scope, nothing, ignore))
    (inner,) = seen
    return inner


def http(path: str, raw_path: bytes | None = None, **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "path": path, "query_string": b"", **extra}
    if raw_path is not None:
        scope["raw_path"] = raw_path
    return scope


# --- the middleware on its own -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/api/world/worlds/abc", "/worlds/abc"),
        ("/v1/api/world", "/"),
        ("/v1/api/world/", "/"),
        ("/v1/api/world/health", "/health"),
        ("/worlds/abc", "/worlds/abc"),
        ("/health", "/health"),
        ("/", "/"),
        ("/v1/api/worldx/worlds/abc", "/v1/api/worldx/worlds/abc"),
        ("/v1/api/worl", "/v1/api/worl"),
        ("/x/v1/api/world/worlds", "/x/v1/api/world/worlds"),
        ("/v1/api/world/v1/api/world/a", "/v1/api/world/a"),  # removed once
    ],
)
def test_a_prefix_is_removed_only_at_a_segment_boundary(path, expected):
    assert routed((WORLD,), http(path))["path"] == expected


def test_the_longest_prefix_wins_whatever_the_order():
    for prefixes in (("/v1", WORLD), (WORLD, "/v1")):
        assert routed(prefixes, http("/v1/api/world/worlds/a"))["path"] == "/worlds/a"
        assert routed(prefixes, http("/v1/api/worlds/a"))["path"] == "/api/worlds/a"
        assert routed(prefixes, http("/v1/api/worldx"))["path"] == "/api/worldx"


def test_raw_path_is_stripped_with_the_path_and_the_rest_is_left_alone():
    scope = http(
        "/v1/api/world/worlds/a b",
        b"/v1/api/world/worlds/a%20b",
        query_string=b"status=active&limit=1",
        headers=[(b"host", b"x")],
        root_path="",
    )

    inner = routed((WORLD,), scope)

    assert (inner["path"], inner["raw_path"]) == ("/worlds/a b", b"/worlds/a%20b")
    assert inner["query_string"] == b"status=active&limit=1"
    assert (inner["headers"], inner["root_path"]) == ([(b"host", b"x")], "")
    # The caller's scope (the request log's) keeps the path as it arrived.
    assert (scope["path"], scope["raw_path"]) == ("/v1/api/world/worlds/a b", scope["raw_path"])
    assert routed((WORLD,), http(WORLD, WORLD.encode()))["raw_path"] == b"/"


def test_a_raw_path_encoded_differently_is_dropped_rather_than_disagree():
    inner = routed((WORLD,), http("/v1/api/world/worlds", b"/v1/api/w%6Frld/worlds"))

    assert inner["path"] == "/worlds"
    assert "raw_path" not in inner


def test_websockets_are_stripped_and_lifespan_passes_through():
    assert routed((WORLD,), {"type": "websocket", "path": "/v1/api/world/ws"})["path"] == "/ws"
    lifespan = {"type": "lifespan"}
    assert routed((WORLD,), lifespan) is lifespan


# --- settings ----------------------------------------------------------------------------


def test_api_base_paths_is_read_from_the_environment_and_empty_by_default():
    env = {"SERVICE_ROLE": "llm-integration"}

    assert Settings.from_env(env).base_paths == ()
    assert Settings.from_env({**env, "API_BASE_PATHS": ""}).base_paths == ()
    assert Settings.from_env({**env, "API_BASE_PATHS": PLATFORM}).base_paths == (
        "/v1/api/world",
        "/v1/api/runtime",
        "/v1/api/llm",
    )


@pytest.mark.parametrize(
    "value",
    [
        "v1/api/world",
        "/v1/api/world/",
        "/",
        "/v1/api world",
        "/v1/api\tworld",
        "/v1/api/world,api/llm",
        "/v1/api/world,/v1/api/llm/",
    ],
)
def test_a_bad_api_base_paths_is_refused_naming_the_variable(value):
    with pytest.raises(ConfigError, match="API_BASE_PATHS") as refused:
        Settings.from_env({"SERVICE_ROLE": "llm-integration", "API_BASE_PATHS": value})

    assert "/v1/api/world'" not in str(refused.value)  # only the bad entries are quoted


def test_bad_api_base_paths_are_listed_with_the_other_problems():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"SERVICE_ROLE": "nope", "API_BASE_PATHS": "v1,/v1/", "PORT": "x"})

    message = str(refused.value)
    assert re.search(r"API_BASE_PATHS: .*got 'v1', '/v1/'", message)
    assert "SERVICE_ROLE: expected one of" in message
    assert "PORT: expected an integer" in message
    with pytest.raises(ConfigError, match="API_BASE_PATHS"):
        Settings(role="llm-integration", base_paths=("",))


# --- the service -------------------------------------------------------------------------


@pytest.fixture
def worlds(make_client) -> TestClient:
    return make_client("world-management", base_paths=(WORLD,))


def test_prefixed_and_bare_paths_reach_the_same_route_with_the_same_answer(worlds):
    created = worlds.post(f"{WORLD}/worlds", json={"world_id": "w1", "name": "Smallville"})
    assert created.status_code == 201, created.text
    put = worlds.put(
        "/worlds/w1/objects/tree-1", json={"object_type": "tree", "name": "oak", "properties": {}}
    )
    assert put.status_code == 201, put.text

    for path in ("/worlds/w1", "/worlds/w1/objects/tree-1", "/worlds/nope", HEALTH_PATH):
        bare, prefixed = worlds.get(path), worlds.get(WORLD + path)
        assert (prefixed.status_code, prefixed.json()) == (bare.status_code, bare.json()), path
    assert worlds.get(f"{WORLD}/worlds/w1").json()["name"] == "Smallville"
    assert worlds.get(f"{WORLD}/health").json() == {"status": "ok", "role": "world-management"}
    # /v1/api/world is served as /, which no route declares.
    root, prefix = worlds.get("/"), worlds.get(WORLD)
    assert (
        (prefix.status_code, prefix.json())
        == (root.status_code, root.json())
        == (
            404,
            {"detail": "Not Found"},
        )
    )


def test_a_prefix_matches_only_at_a_segment_boundary(worlds):
    worlds.post("/worlds", json={"world_id": "w1", "name": "Smallville"})

    assert worlds.get(f"{WORLD}/worlds/w1").status_code == 200
    assert worlds.get("/v1/api/worldx/worlds/w1").status_code == 404
    assert worlds.get("/v1/api/worlds/w1").status_code == 404
    assert worlds.get("/v1/api/worldworlds/w1").status_code == 404


def test_the_longest_prefix_wins(make_client):
    client = make_client("world-management", base_paths=("/v1", WORLD))
    client.post("/worlds", json={"world_id": "w1", "name": "Smallville"})

    assert client.get(f"{WORLD}/worlds/w1").status_code == 200  # not /api/world/worlds/w1
    assert client.get("/v1/worlds/w1").status_code == 200
    assert client.get("/v1/api/worldx/worlds/w1").status_code == 404  # /api/worldx/...


def test_query_strings_survive(worlds):
    for world_id in ("w1", "w2", "w3"):
        worlds.post("/worlds", json={"world_id": world_id, "name": world_id})

    bare = worlds.get("/worlds", params={"status": "active", "limit": 2}).json()
    prefixed = worlds.get(f"{WORLD}/worlds", params={"status": "active", "limit": 2}).json()
    assert prefixed == bare and len(bare["worlds"]) == 2 and bare["next_token"]
    page = {"status": "active", "limit": 2, "next_token": bare["next_token"]}
    assert (
        worlds.get(f"{WORLD}/worlds", params=page).json()
        == worlds.get("/worlds", params=page).json()
    )
    assert len(worlds.get(f"{WORLD}/worlds", params=page).json()["worlds"]) == 1
    # A refused parameter is refused under the prefix too, so it did reach the route.
    assert worlds.get(f"{WORLD}/worlds?limit=0").status_code == 422


def test_without_api_base_paths_a_prefixed_path_is_not_found(make_client):
    client = make_client("world-management")

    assert client.get(f"{WORLD}/health").status_code == 404
    assert client.get(HEALTH_PATH).status_code == 200


def test_the_request_log_shows_the_path_as_it_arrived(worlds, caplog):
    with caplog.at_level(logging.DEBUG, logger="agent_world.middleware"):
        worlds.get(f"{WORLD}/worlds/nope")
        worlds.get("/worlds/nope")

    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.path, r.status) for r in lines] == [
        (f"{WORLD}/worlds/nope", 404),
        ("/worlds/nope", 404),
    ]


def test_the_body_limit_still_applies_under_a_prefix(make_client):
    client = make_client("world-management", base_paths=(WORLD,), max_body_bytes=64)

    answer = client.post(f"{WORLD}/worlds", json={"name": "x" * 100})

    assert answer.status_code == 413


def concrete(path: str) -> str:
    """A request path for a route template: each ``{parameter}`` replaced by a valid id."""
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_the_platform_value_serves_every_route_of_the_all_role_under_each_prefix(
    aws, table_names, bucket
):
    env = {"SERVICE_ROLE": "all", "API_BASE_PATHS": PLATFORM, "SNAPSHOT_BUCKET": bucket}
    settings = Settings.from_env({**env, **table_names})
    app: FastAPI = create_app(settings, dynamodb=aws["resource"], s3=aws["s3"])
    client = TestClient(app)
    routes = [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops]
    assert len(routes) > 10

    # Nothing exists, so every request is refused (404/422) or lists nothing: none writes.
    for method, path in routes:
        body = None if method == "GET" else {}
        bare = client.request(method, concrete(path), json=body)
        for prefix in settings.base_paths:
            prefixed = client.request(method, prefix + concrete(path), json=body)
            answers = (prefixed.status_code, prefixed.json()), (bare.status_code, bare.json())
            assert answers[0] == answers[1], (method, prefix, path)
