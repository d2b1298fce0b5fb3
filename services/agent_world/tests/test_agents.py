"""agent-runtime: agents, memories (TTL, importance-index), events, the WebSocket hooks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest


def test_registering_an_agent_needs_an_existing_world(runtime, aws):
    answer = runtime.post("/worlds/nope/agents", json={"name": "x"})
    assert answer.status_code == 404 and "world 'nope'" in answer.json()["detail"]


def test_an_agent_is_registered_fetched_and_listed_by_world(runtime, agent):
    assert agent["world_id"] == "w1"
    assert runtime.get("/agents/a1").json() == agent
    runtime.post("/worlds/w1/agents", json={"name": "Klaus", "state": {"mood": 0.5}})

    listed = runtime.get("/worlds/w1/agents").json()

    assert len(listed["agents"]) == 2 and listed["agents"][0]["agent_id"] == "a1"
    assert runtime.get("/worlds/zz/agents").status_code == 404


def test_a_duplicate_agent_id_is_a_conflict_and_bad_bodies_are_422(runtime, agent):
    assert (
        runtime.post("/worlds/w1/agents", json={"agent_id": "a1", "name": "x"}).status_code == 409
    )
    assert runtime.post("/worlds/w1/agents", json={"agent_id": "a2"}).status_code == 422
    assert runtime.get("/agents/none").status_code == 404


def test_a_memory_with_ttl_days_has_an_epoch_expiry(runtime, agent, aws, table_names):
    before = int(time.time())
    answer = runtime.post(
        "/agents/a1/memories", json={"content": "saw a cat", "importance": 3, "ttl_days": 2}
    )

    assert answer.status_code == 201, answer.text
    memory = answer.json()
    assert before + 2 * 86400 - 5 <= memory["expires_at"] <= before + 2 * 86400 + 5
    stored = aws["dynamodb"].get_item(
        TableName=table_names["MEMORY_TABLE"],
        Key={"agent_id": {"S": "a1"}, "created_at": {"S": memory["created_at"]}},
    )["Item"]
    assert "N" in stored["expires_at"] and "N" in stored["importance"]
    assert "#" in memory["created_at"]  # time plus a unique suffix


def test_a_memory_without_ttl_never_expires(runtime, agent):
    memory = runtime.post("/agents/a1/memories", json={"content": "x", "importance": 1}).json()
    assert "expires_at" not in memory


def test_memories_are_listed_recent_first_or_by_importance(runtime, agent):
    for n, importance in enumerate((2, 9, 5)):
        runtime.post("/agents/a1/memories", json={"content": f"m{n}", "importance": importance})

    recent = runtime.get("/agents/a1/memories").json()["memories"]
    important = runtime.get("/agents/a1/memories?min_importance=4").json()["memories"]
    paged = runtime.get("/agents/a1/memories?order=importance&limit=1").json()

    assert [m["content"] for m in recent] == ["m2", "m1", "m0"]
    assert [m["importance"] for m in important] == [9, 5]
    assert paged["memories"][0]["importance"] == 9 and paged["next_token"]
    second = runtime.get(
        f"/agents/a1/memories?order=importance&limit=1&next_token={paged['next_token']}"
    )
    assert second.json()["memories"][0]["importance"] == 5


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("post", "/agents/a1/memories", {"content": "x", "importance": 11}, 422),
        ("post", "/agents/a1/memories", {"content": "", "importance": 1}, 422),
        ("post", "/agents/a1/memories", {"content": "x", "importance": 1, "ttl_days": 0}, 422),
        ("post", "/agents/zz/memories", {"content": "x", "importance": 1}, 404),
        ("get", "/agents/a1/memories?min_importance=-1", None, 422),
        ("get", "/agents/a1/memories?order=recent&min_importance=1", None, 422),
        ("get", "/agents/a1/memories?next_token=bm9wZQ", None, 400),
        ("get", "/agents/zz/memories", None, 404),
    ],
)
def test_bad_memory_requests_are_refused(runtime, agent, method, path, body, code):
    answer = getattr(runtime, method)(path, **({"json": body} if body is not None else {}))
    assert answer.status_code == code, answer.text


def test_a_token_from_another_listing_is_400_not_500(runtime, agent):
    for n in range(2):
        runtime.post("/agents/a1/memories", json={"content": f"m{n}", "importance": n})
    token = runtime.get("/agents/a1/memories?limit=1").json()["next_token"]

    # The recent-order token lacks importance, the index's key: refused before DynamoDB.
    answer = runtime.get(f"/agents/a1/memories?order=importance&next_token={token}")

    assert answer.status_code == 400


def test_events_are_recorded_and_listed_by_world_since_and_by_agent(runtime, agent):
    start = datetime.now(UTC) - timedelta(seconds=1)
    first = runtime.post("/worlds/w1/events", json={"type": "world.tick", "payload": {"n": 1}})
    said = runtime.post(
        "/worlds/w1/events", json={"type": "agent.say", "agent_id": "a1", "payload": {"t": "hi"}}
    )

    assert first.status_code == 201 and said.status_code == 201
    every = runtime.get("/worlds/w1/events").json()["events"]
    assert [e["type"] for e in every] == ["agent.say", "world.tick"]
    since = runtime.get("/worlds/w1/events", params={"since": start.isoformat()}).json()
    assert len(since["events"]) == 2
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert runtime.get("/worlds/w1/events", params={"since": later}).json()["events"] == []
    mine = runtime.get("/agents/a1/events").json()["events"]
    assert [e["type"] for e in mine] == ["agent.say"]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/worlds/w1/events", {"type": "Bad Type"}, 422),
        ("/worlds/w1/events", {"type": "x", "payload": {"v": float("nan")}}, 422),
        ("/worlds/w1/events", {"type": "x", "agent_id": "zz"}, 404),
        ("/worlds/zz/events", {"type": "x"}, 404),
    ],
)
def test_bad_events_are_refused(runtime, agent, path, body, code):
    import json

    answer = runtime.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == code, answer.text


def test_an_event_for_an_agent_of_another_world_is_422(runtime, agent, worlds):
    worlds.post("/worlds", json={"world_id": "w2", "name": "other"})
    answer = runtime.post("/worlds/w2/events", json={"type": "x", "agent_id": "a1"})
    assert answer.status_code == 422 and "not in world" in answer.json()["detail"]


def test_event_listing_refuses_a_naive_since(runtime, agent):
    assert runtime.get("/worlds/w1/events?since=2024-01-01T00:00:00").status_code == 422
    assert runtime.get("/worlds/w1/events?since=yesterday").status_code == 422
    assert runtime.get("/agents/zz/events").status_code == 404


def test_websocket_hooks_record_events_with_the_connection_id(runtime, agent):
    connect = runtime.post(
        "/ws/connect",
        json={"world_id": "w1", "agent_id": "a1"},
        headers={"X-Connection-Id": "c1 !"},
    )
    message = runtime.post(
        "/ws/message", json={"world_id": "w1", "connection_id": "c2", "payload": {"say": "hi"}}
    )
    gone = runtime.post(
        "/ws/disconnect", json={"world_id": "w1"}, headers={"X-Connection-Id": "c1"}
    )
    silent = runtime.post("/ws/disconnect", headers={"X-Connection-Id": "c3"})

    assert connect.status_code == 422  # " " and "!" are not in API Gateway's (base64) ids
    assert message.status_code == 200 and message.json()["connection_id"] == "c2"
    assert gone.status_code == 200 and gone.json()["event"]["type"] == "ws.disconnect"
    assert silent.status_code == 200 and silent.json()["event"] is None
    types = [e["type"] for e in runtime.get("/worlds/w1/events").json()["events"]]
    assert types == ["ws.disconnect", "ws.message"]
    ok = runtime.post(
        "/ws/connect",
        json={"world_id": "w1", "agent_id": "a1"},
        headers={"X-Connection-Id": "L0SM9cOFvHcCIhw="},
    )
    assert ok.status_code == 200
    assert ok.json()["event"]["payload"]["connection_id"] == "L0SM9cOFvHcCIhw="


def test_websocket_hooks_need_a_connection_id_and_a_known_world(runtime, agent):
    assert runtime.post("/ws/message", json={"world_id": "w1"}).status_code == 422
    assert runtime.post("/ws/connect", json={}, headers={"X-Connection-Id": "c"}).status_code == 422
    answer = runtime.post("/ws/connect", json={"world_id": "zz"}, headers={"X-Connection-Id": "c"})
    assert answer.status_code == 404


def test_agent_runtime_serves_no_world_management_paths(runtime, agent):
    assert runtime.post("/worlds", json={"name": "x"}).status_code == 404
    assert runtime.post("/worlds/w1/snapshots").status_code == 404
    assert runtime.get("/health").json() == {"status": "ok", "role": "agent-runtime"}


@pytest.mark.parametrize(
    "document", [{"": 1}, {"mood": {"": "calm"}}, {"plans": [{"a": 1}, {"": 2}]}], ids=str
)
def test_an_empty_key_anywhere_in_a_document_is_422(runtime, worlds, agent, document):
    patched = runtime.patch("/agents/a1", json={"version": 1, "state": document})
    created = runtime.post("/worlds/w1/agents", json={"name": "B", "state": document})
    put = worlds.put("/worlds/w1/objects/o1", json={"object_type": "t", "properties": document})
    made = worlds.post("/worlds", json={"name": "W", "settings": document})
    event = runtime.post("/worlds/w1/events", json={"type": "tick", "payload": document})
    for answer in (patched, created, put, made, event):
        assert answer.status_code == 422, answer.text
        assert "a key is empty" in answer.text
    assert runtime.get("/agents/a1").json()["version"] == 1
